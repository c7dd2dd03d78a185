/**
 * AdmissionReview v1 in, AdmissionReview v1 out. Pure: no I/O, no clock; the HTTP shell
 * (app.ts) parses the body, calls `reviewAdmission`, logs and counts what it returns.
 * Transport faults (not a review, not v1) are for the shell to answer with HTTP 400; a pod
 * we refuse is an HTTP 200 with `allowed: false` and the message the user will read.
 * `reviewWorkload` answers the warn-only registration (POST /warn): always allowed, with
 * core's workload warnings fitted to the API server's limits.
 */
import type { V1Pod } from '@kubernetes/client-node';
import {
  fitAdmissionWarnings,
  formatAnnotationErrors,
  isRecord,
  mountIntoLateContainers,
  mutatePod,
  podShapeProblem,
  shouldInject,
  toJsonPatch,
  workloadKind,
  workloadWarnings,
  type InjectionConfig,
  type SkipReason,
  type WorkloadWarning,
} from '@vault-courier/core';

export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';

export interface AdmissionRequest {
  readonly uid: string;
  readonly kind?: { readonly group?: string; readonly version?: string; readonly kind?: string };
  readonly resource?: { readonly group?: string; readonly version?: string; readonly resource?: string };
  readonly subResource?: string;
  readonly namespace?: string;
  readonly operation?: string;
  readonly object?: unknown;
  readonly dryRun?: boolean;
}

export interface AdmissionResponse {
  readonly uid: string;
  readonly allowed: boolean;
  readonly patchType?: 'JSONPatch';
  /** Base64 of the JSON patch. */
  readonly patch?: string;
  readonly status?: { readonly code: number; readonly reason?: string; readonly message: string };
  /** Printed by kubectl as "Warning: ..."; fitted to the API server's limits. */
  readonly warnings?: readonly string[];
}

export interface AdmissionReviewResponse {
  readonly apiVersion: typeof ADMISSION_API_VERSION;
  readonly kind: 'AdmissionReview';
  readonly response: AdmissionResponse;
}

export type Outcome = 'injected' | 'skipped' | 'denied' | 'warned' | 'ignored' | 'error';

export type ParsedReview = { readonly ok: true; readonly request: AdmissionRequest } | { readonly ok: false; readonly reason: string };

export interface ReviewResult {
  readonly outcome: Exclude<Outcome, 'error'>;
  /** Why: a skip reason, 'invalid' for a refusal, or what was ignored. */
  readonly reason: SkipReason | 'invalid' | 'not-a-pod-create' | 'injected' | 'late-containers';
  readonly review: AdmissionReviewResponse;
  /** Pod identity for the log line: name, or generateName followed by `*`. */
  readonly pod: string;
  readonly namespace: string;
}


/** Checks the envelope; a reason for the HTTP 400 otherwise. */
export function parseAdmissionReview(body: unknown): ParsedReview {
  if (!isRecord(body)) return { ok: false, reason: 'the body is not a JSON object (send an AdmissionReview with Content-Type: application/json)' };
  if (body.apiVersion !== ADMISSION_API_VERSION || body.kind !== 'AdmissionReview') {
    return { ok: false, reason: `expected an AdmissionReview of apiVersion ${ADMISSION_API_VERSION}, got kind ${JSON.stringify(body.kind)} of apiVersion ${JSON.stringify(body.apiVersion)} (set admissionReviewVersions: ["v1"])` };
  }
  const request = body.request;
  if (!isRecord(request) || typeof request.uid !== 'string' || request.uid === '') return { ok: false, reason: 'the AdmissionReview has no request.uid' };
  return { ok: true, request: request as unknown as AdmissionRequest };
}

function respond(response: AdmissionResponse): AdmissionReviewResponse {
  return { apiVersion: ADMISSION_API_VERSION, kind: 'AdmissionReview', response };
}

function podLabel(pod: V1Pod): string {
  return pod.metadata?.name || (pod.metadata?.generateName ? `${pod.metadata.generateName}*` : '');
}

function isPodCreate(request: AdmissionRequest): boolean {
  return request.kind?.kind === 'Pod' && (request.kind.group ?? '') === '' && request.operation === 'CREATE' && (request.subResource ?? '') === '';
}

/**
 * Decides and builds the answer for one review. Dry-run requests get the same answer as
 * real ones: the webhook has no side effects to skip.
 */
export function reviewAdmission(request: AdmissionRequest, config: InjectionConfig): ReviewResult {
  const namespace = request.namespace ?? '';
  if (!isPodCreate(request) || !isRecord(request.object)) {
    return { outcome: 'ignored', reason: 'not-a-pod-create', review: respond({ uid: request.uid, allowed: true }), pod: '', namespace };
  }
  const malformed = podShapeProblem(request.object);
  if (malformed !== undefined) {
    // The API server only sends pods it decoded: this review was written by hand.
    const message = `vault-courier: ${malformed}; send the pod as the API server encodes it`;
    return { outcome: 'denied', reason: 'invalid', review: respond({ uid: request.uid, allowed: false, status: { code: 400, reason: 'BadRequest', message } }), pod: '', namespace };
  }
  const pod = request.object as V1Pod;
  const base = { pod: podLabel(pod), namespace };
  const decision = shouldInject(pod, config);
  if (!decision.inject) {
    if (decision.reason === 'invalid') {
      const message = formatAnnotationErrors(decision.errors);
      return { ...base, outcome: 'denied', reason: 'invalid', review: respond({ uid: request.uid, allowed: false, status: { code: 400, reason: 'BadRequest', message } }) };
    }
    const completed = decision.reason === 'already-injected' ? mountIntoLateContainers(pod, config) : undefined;
    if (completed !== undefined) return { ...base, outcome: 'injected', reason: 'late-containers', review: patched(request.uid, pod, completed) };
    return { ...base, outcome: 'skipped', reason: decision.reason, review: respond({ uid: request.uid, allowed: true }) };
  }
  return { ...base, outcome: 'injected', reason: 'injected', review: patched(request.uid, pod, mutatePod(pod, decision.spec, config)) };
}

function patched(uid: string, original: V1Pod, mutated: V1Pod): AdmissionReviewResponse {
  const patch = toJsonPatch(original, mutated);
  return respond({ uid, allowed: true, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(patch)).toString('base64') });
}

export interface WarnResult {
  readonly outcome: 'warned' | 'skipped' | 'ignored';
  /** Which warnings (bounded, for the metric), or why there were none. */
  readonly reason: 'misplaced' | 'invalid' | 'misplaced-and-invalid' | 'clean' | 'not-a-workload-write';
  readonly review: AdmissionReviewResponse;
  /** `Kind/name` for the log line. */
  readonly object: string;
  readonly namespace: string;
  readonly warnings: number;
}

function isWorkloadWrite(request: AdmissionRequest): boolean {
  return (request.operation === 'CREATE' || request.operation === 'UPDATE') && (request.subResource ?? '') === '' && workloadKind(request.kind?.kind, request.kind?.group ?? '') !== undefined;
}

/** The warn-only review of a workload: always allowed, with warnings when its pods would miss out. */
export function reviewWorkload(request: AdmissionRequest, config: InjectionConfig): WarnResult {
  const namespace = request.namespace ?? '';
  const allowed = (warnings: readonly string[]) => respond({ uid: request.uid, allowed: true, ...(warnings.length > 0 ? { warnings } : {}) });
  if (!isWorkloadWrite(request) || !isRecord(request.object)) return { outcome: 'ignored', reason: 'not-a-workload-write', review: allowed([]), object: '', namespace, warnings: 0 };
  const kind = request.kind?.kind ?? '';
  const found = workloadWarnings(kind, request.object, config);
  const warnings = fitAdmissionWarnings(found.map((w) => w.text));
  return { outcome: warnings.length > 0 ? 'warned' : 'skipped', reason: warnReason(found), review: allowed(warnings), object: `${kind}/${objectName(request.object)}`, namespace, warnings: warnings.length };
}

function objectName(object: Record<string, unknown>): string {
  const metadata = isRecord(object.metadata) ? object.metadata : {};
  return String(metadata.name ?? metadata.generateName ?? '');
}

function warnReason(found: readonly WorkloadWarning[]): WarnResult['reason'] {
  const kinds = new Set(found.map((w) => w.kind));
  if (kinds.size === 2) return 'misplaced-and-invalid';
  return kinds.has('misplaced') ? 'misplaced' : kinds.has('invalid') ? 'invalid' : 'clean';
}
