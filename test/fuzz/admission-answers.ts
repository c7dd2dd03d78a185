/**
 * What every answer of POST /mutate must be, whatever was sent: a 4xx with a reason when
 * the body is not an AdmissionReview v1 the webhook could read, else a well-formed review
 * (the uid echoed, allowed a boolean, a message when denied, no internal error) whose
 * patch is a JSON Patch that applies to the pod that was sent, as the API server applies it.
 */
import jsonpatch from 'fast-json-patch';
import type { AdmissionCase } from './admission-cases.ts';
import type { Answer } from './post.ts';

export type { Answer };

/** body-parser's "2mb" for /mutate and "4mb" for /warn (app.ts). */
const BODY_LIMITS = { '/mutate': 2 * 1024 * 1024, '/warn': 4 * 1024 * 1024 } as const;

type Parsed = { ok: true; value: unknown } | { ok: false };

function parse(text: string): Parsed {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false };
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** What the webhook should have read: the request, if the body is a JSON AdmissionReview v1 within the limit. */
export function sentRequest(c: AdmissionCase): Record<string, unknown> | undefined {
  const type = c.headers['content-type'] ?? '';
  if (c.body.length > BODY_LIMITS[c.path] || c.headers['content-encoding'] !== undefined || type !== 'application/json') return undefined;
  const parsed = parse(c.body.toString('utf8'));
  if (!parsed.ok || !isRecord(parsed.value)) return undefined;
  const review = parsed.value;
  if (review.apiVersion !== 'admission.k8s.io/v1' || review.kind !== 'AdmissionReview' || !isRecord(review.request)) return undefined;
  return typeof review.request.uid === 'string' && review.request.uid !== '' ? review.request : undefined;
}

function refusal(answer: Answer): string | undefined {
  if (answer.status < 400 || answer.status >= 500) return `expected a 4xx refusal, got ${answer.status}`;
  const body = parse(answer.text);
  if (!body.ok || !isRecord(body.value) || typeof body.value.error !== 'string' || body.value.error === '') return `a ${answer.status} without { error: <reason> }: ${answer.text.slice(0, 200)}`;
  return undefined;
}

function patchProblem(response: Record<string, unknown>, pod: unknown): string | undefined {
  if (response.patch === undefined) return response.patchType === undefined ? undefined : 'patchType without a patch';
  if (response.patchType !== 'JSONPatch' || typeof response.patch !== 'string') return `patchType ${String(response.patchType)} with a ${typeof response.patch} patch`;
  if (response.allowed !== true) return 'a patch on a denied review';
  const ops = parse(Buffer.from(response.patch, 'base64').toString('utf8'));
  if (!ops.ok || !Array.isArray(ops.value)) return 'the patch is not a JSON array';
  try {
    // validateOperation: true throws on an op that does not apply (a missing path, a bad op).
    jsonpatch.applyPatch(structuredClone(pod), ops.value as jsonpatch.Operation[], true, true);
  } catch (err) {
    return `the patch does not apply to the pod sent: ${(err as Error).message.split('\n')[0]}`;
  }
  return undefined;
}

function reviewProblem(c: AdmissionCase, answer: Answer, request: Record<string, unknown>): string | undefined {
  if (answer.status !== 200) return `a readable review answered ${answer.status}: ${answer.text.slice(0, 200)}`;
  const body = parse(answer.text);
  if (!body.ok || !isRecord(body.value)) return 'a 200 that is not a JSON object';
  const { apiVersion, kind, response } = body.value;
  if (apiVersion !== 'admission.k8s.io/v1' || kind !== 'AdmissionReview' || !isRecord(response)) return `not an AdmissionReview v1: ${answer.text.slice(0, 200)}`;
  if (response.uid !== request.uid) return `uid ${JSON.stringify(response.uid)} echoed for ${JSON.stringify(request.uid)}`;
  if (typeof response.allowed !== 'boolean') return `allowed is ${typeof response.allowed}`;
  if (c.path === '/warn') return warnProblem(response);
  return (response.allowed ? undefined : denialProblem(response.status)) ?? patchProblem(response, request.object);
}

/** /warn never refuses and never patches; its warnings are strings. */
function warnProblem(response: Record<string, unknown>): string | undefined {
  if (response.allowed !== true || response.patch !== undefined) return `/warn answered allowed ${String(response.allowed)}${response.patch === undefined ? '' : ' with a patch'}`;
  const { warnings } = response;
  if (warnings !== undefined && !(Array.isArray(warnings) && warnings.every((w) => typeof w === 'string' && w !== ''))) return 'warnings that are not a list of strings';
  return undefined;
}

function denialProblem(status: unknown): string | undefined {
  if (!isRecord(status) || typeof status.message !== 'string' || status.message === '') return 'denied without a status message';
  if (status.code === 500 || status.reason === 'InternalError') return `the review failed inside the webhook: ${status.message}`;
  return undefined;
}

/** Undefined when the answer is one the contract allows for this case; else what is wrong. */
export function answerProblem(c: AdmissionCase, answer: Answer): string | undefined {
  const request = sentRequest(c);
  return request === undefined ? refusal(answer) : reviewProblem(c, answer, request);
}
