/**
 * `POST /evict`, `POST /expiry-warning` and `POST /deadline`: the sidecar's only way to act
 * on its own pod.
 * The pod's service account holds no rights; the sidecar presents a projected token
 * (audience `vault-courier`) and the webhook acts, with its own rights, on exactly the pod
 * that token is bound to, and only when that pod is an injected one. Every answer is a
 * v1 Status whose `reason` is one of core's EVICTION_ANSWERS, so the sidecar never has to
 * guess what a code means (a 409 from the API server is resolved here, by reading the pod).
 * /deadline and the answers of /evict keep the pod's vault-courier.io/Rotation condition
 * (core's rotation-condition.ts), which `vault-courier status` reads.
 * The rotation queue (core's eviction-queue.ts): /deadline answers with the lead the pod's
 * PodDisruptionBudget needs, and /evict lets the pods a budget covers go earliest expiry
 * first, from their conditions; without the rights to list budgets and pods it does neither.
 * Contract: docs/eviction-endpoint.md, docs/contract.md ("Rotation status", "Rotation queue").
 */
import { setTimeout as sleep } from 'node:timers/promises';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { Counter, type Registry } from 'prom-client';
import type { KubeConfig } from '@kubernetes/client-node';
import {
  afterBlockedEviction,
  afterEviction,
  budgetLead,
  DEFAULT_SAFETY_MARGIN_MS,
  EVICTION_ANSWERS,
  formatRotationMessage,
  parseDeadlineReport,
  queueTurn,
  rotationCondition,
  ROTATION_REASONS,
  type BudgetLead,
  type EvictionReason,
  type InjectionConfig,
  type Logger,
  type PodIdentity,
  type QueueTurn,
  type RotationState,
} from '@vault-courier/core';
import { blockedMessage, bodyProblem, budgetNames, ENDPOINT_BODY_LIMIT, evictionVerdict, expiredMessage, OUTCOMES, podStanding, queuePodOf, type Outcome, type PodFacts, type PodStanding } from './answers.ts';
import { createEvictionCluster, jwksUrl, kubeFetch, type BudgetOfPods, type EvictionAnswer, type EvictionCluster } from './cluster.ts';
import { selectorMatches } from '../status/label-selector.ts';
import { createRateLimiter, DEFAULT_RATE_LIMIT, type TokenBucketOptions } from './rate-limit.ts';
import { createClusterKeySet, createTokenVerifier, type TokenVerifier } from './token-verifier.ts';
import { createVaultHealthCheck, type VaultHealthCheck } from './vault-health.ts';

export const EVICT_PATH = '/evict';
export const EXPIRY_WARNING_PATH = '/expiry-warning';
export const DEADLINE_PATH = '/deadline';

export const EVENT_REASONS = {
  requested: 'EvictionRequested',
  blocked: 'EvictionBlocked',
  /** Once per pod: the earliest expiry passed while a PodDisruptionBudget still refuses the eviction. */
  expired: 'CredentialsExpired',
  /** The eviction waits for Vault: a replacement could not get credentials now. */
  held: 'EvictionHeld',
  expiring: 'CredentialsExpiring',
  /** A refusal the sidecar cannot fix by retrying: the pod is not an injected one. */
  notInjected: 'EvictionNotAllowed',
  /** A refusal the sidecar cannot fix by retrying: the API server refused (e.g. RBAC). */
  refused: 'EvictionFailed',
  /** A refusal the sidecar cannot fix by retrying: its /expiry-warning request was malformed. */
  invalid: 'ExpiryWarningInvalid',
  /** A refusal the sidecar cannot fix by retrying: its /deadline request was malformed. */
  deadlineInvalid: 'DeadlineReportInvalid',
  /** A refusal the sidecar cannot fix by retrying: the API server refused the pods/status patch (e.g. RBAC). */
  statusRefused: 'RotationStatusFailed',
} as const;

export interface EvictRouterDeps {
  readonly logger: Logger;
  /** The webhook app's registry: the outcome counter is served on its /metrics. */
  readonly registry: Registry;
  readonly verifyToken: TokenVerifier;
  /** Without listBudgets and listPods: no queue lead, no queue (each pod asks at its own deadline, as before). */
  readonly cluster: Pick<EvictionCluster, 'evict' | 'recordEvent' | 'readPod' | 'writeRotationCondition'> & Partial<Pick<EvictionCluster, 'listBudgets' | 'listPods'>>;
  readonly vaultHealth: VaultHealthCheck;
  readonly now?: () => number;
  readonly rateLimit?: TokenBucketOptions;
  readonly hold?: EvictionHold;
}

/**
 * A 429 from a budget the webhook can read: the request is held while the budget's status
 * is read every `everyMs`, at most `maxMs`, and the Eviction is sent once more as soon as
 * the budget allows one. The budget frees when the previous pod's replacement is Ready;
 * the first in line retrying on its own (every second) left it free 0.6–0.7 s per cycle
 * in bench/rotation, a wait every pod behind it shared. Past `maxMs` the 429 goes back.
 */
export interface EvictionHold {
  readonly maxMs: number;
  readonly everyMs: number;
}

export const DEFAULT_EVICTION_HOLD: EvictionHold = { maxMs: 2000, everyMs: 200 };

/** The production wiring: the webhook's KubeConfig (in a pod: loadFromCluster) and Vault address. */
export function createEvictDeps(options: { kubeConfig: KubeConfig; vaultAddr: string; vaultCaPem?: string }): Pick<EvictRouterDeps, 'verifyToken' | 'cluster' | 'vaultHealth'> {
  const cluster = createEvictionCluster(options.kubeConfig);
  return {
    cluster,
    verifyToken: createTokenVerifier({ getKey: createClusterKeySet({ url: jwksUrl(options.kubeConfig), fetch: kubeFetch(options.kubeConfig) }), issuer: cluster.fetchIssuer }),
    vaultHealth: createVaultHealthCheck({ addr: options.vaultAddr, ...(options.vaultCaPem === undefined ? {} : { caPem: options.vaultCaPem }) }),
  };
}

const COUNTER_NAME = 'vault_courier_eviction_requests_total';

function outcomeCounter(registry: Registry): Counter<'endpoint' | 'outcome'> {
  const existing = registry.getSingleMetric(COUNTER_NAME);
  if (existing) return existing as Counter<'endpoint' | 'outcome'>;
  return new Counter({
    name: COUNTER_NAME,
    help: 'Requests to the eviction endpoints by outcome (requested, blocked by a PodDisruptionBudget, gone, refused, ...)',
    labelNames: ['endpoint', 'outcome'],
    registers: [registry],
  });
}

function bearer(req: Request): string | undefined {
  const match = /^Bearer ([A-Za-z0-9._~+/=-]+)$/.exec(req.get('authorization') ?? '');
  return match?.[1];
}

/** Text from the request body for an Event: bounded, printable, never required. */
function note(value: unknown, max = 200): string {
  if (typeof value !== 'string') return '';
  return value.replace(/[^\x20-\x7e]/g, ' ').slice(0, max).trim();
}

/** Every answer: a v1 Status with one of core's reasons and the code that goes with it (and /deadline's `queue`). */
function answer(res: Response, reason: EvictionReason, message: string, extra: { queue?: BudgetLead } = {}): void {
  const code = EVICTION_ANSWERS[reason].code;
  res.status(code).json({ kind: 'Status', apiVersion: 'v1', status: code < 300 ? 'Success' : 'Failure', code, reason, message, ...extra });
}

function tokenReason(status: 401 | 403 | 503): EvictionReason {
  if (status === 401) return 'Unauthorized';
  return status === 403 ? 'NotBoundToPod' : 'ClusterUnavailable';
}

/** What a token asked for, in the NotInjected Event. */
const ASKED: Readonly<Record<string, string>> = { evict: 'evict', 'expiry-warning': 'warn about', deadline: 'record the rotation deadline of' };

const NOT_INJECTED =
  'is not injected by vault-courier (no vault-courier.io/status: injected annotation, no vault-courier-sidecar container): only injected pods may use this endpoint';

const ENDPOINT_PATHS = [EVICT_PATH, EXPIRY_WARNING_PATH, DEADLINE_PATH];
export function createEvictRouter(deps: EvictRouterDeps): Router {
  const router = express.Router();
  const now = deps.now ?? Date.now;
  const limiter = createRateLimiter(deps.rateLimit ?? DEFAULT_RATE_LIMIT);
  const counter = outcomeCounter(deps.registry);
  router.use(ENDPOINT_PATHS, express.json({ limit: ENDPOINT_BODY_LIMIT, strict: true }));

  function send(res: Response, endpoint: string, reason: EvictionReason, message: string, extra: { queue?: BudgetLead } = {}): void {
    counter.inc({ endpoint, outcome: OUTCOMES[reason] satisfies Outcome });
    answer(res, reason, message, extra);
  }

  const hold = deps.hold ?? DEFAULT_EVICTION_HOLD;
  let listingWarned = false;
  /**
   * The budgets that select the pod (and count pods). A cluster that refuses the list (a
   * chart older than the queue, RBAC trimmed) means no queue: logged once, never an error
   * for the pod, which asks at its own deadline as before.
   */
  async function budgetsOf(pod: PodIdentity, facts: PodFacts, log: Logger): Promise<BudgetOfPods[]> {
    const list = deps.cluster.listBudgets;
    if (list === undefined) return [];
    try {
      return (await list(pod.namespace)).filter((b) => b.expectedPods > 0 && selectorMatches(b.selector, facts.labels ?? {}));
    } catch (err) {
      if (!listingWarned) log.warn({ err }, 'could not list PodDisruptionBudgets: no rotation queue (needs list poddisruptionbudgets and list pods)');
      listingWarned = true;
      return [];
    }
  }

  /** The longest lead of the budgets that select the pod: the one that takes longest to rotate. */
  function longestLead(budgets: readonly BudgetOfPods[]): BudgetLead | undefined {
    return budgets.map((b) => budgetLead(b)).reduce<BudgetLead | undefined>((best, l) => (best === undefined || l.leadMs > best.leadMs ? l : best), undefined);
  }

  /** The pod's turn in each budget that selects it: the first budget where it must wait decides. */
  async function turnOf(pod: PodIdentity, facts: PodFacts, log: Logger): Promise<(QueueTurn & { budget?: string }) | undefined> {
    const list = deps.cluster.listPods;
    if (list === undefined) return undefined;
    const me = queuePodOf({ ...facts, name: facts.name ?? pod.name });
    for (const budget of await budgetsOf(pod, facts, log)) {
      let pods;
      try {
        pods = (await list(pod.namespace, budget.selector)).filter((p) => selectorMatches(budget.selector, p.labels ?? {})).map(queuePodOf);
      } catch (err) {
        if (!listingWarned) log.warn({ err }, 'could not list the pods of a PodDisruptionBudget: no rotation queue (needs list pods)');
        listingWarned = true;
        return undefined;
      }
      const turn = queueTurn({ me, pods, atOnce: budgetLead(budget).atOnce, nowMs: now(), safetyMarginMs: DEFAULT_SAFETY_MARGIN_MS });
      if (turn.turn === 'wait') return { ...turn, budget: budget.name };
    }
    return undefined;
  }

  async function recordEvent(log: Logger, pod: PodIdentity, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    try {
      await deps.cluster.recordEvent(pod, { type, reason, message });
    } catch (err) {
      log.warn({ err, eventReason: reason }, 'could not record an Event on the pod');
    }
  }

  /** Verifies the token and the rate limit; answers and returns undefined when refused. */
  function authorize(req: Request, res: Response, endpoint: string): Promise<{ pod: PodIdentity; log: Logger } | undefined> | undefined {
    const jwt = bearer(req);
    if (jwt !== undefined) return verified(jwt, res, endpoint);
    res.set('WWW-Authenticate', 'Bearer');
    send(res, endpoint, 'Unauthorized', 'a bearer token is required: the projected service-account token with audience vault-courier');
    return undefined;
  }

  async function verified(jwt: string, res: Response, endpoint: string): Promise<{ pod: PodIdentity; log: Logger } | undefined> {
    const result = await deps.verifyToken(jwt);
    if (!result.ok) {
      deps.logger.warn({ endpoint, status: result.status, reason: result.reason }, 'eviction endpoint refused a token');
      send(res, endpoint, tokenReason(result.status), result.reason);
      return undefined;
    }
    const { pod } = result;
    const log = deps.logger.child({ endpoint, namespace: pod.namespace, pod: pod.name, uid: pod.uid });
    const take = limiter.take(pod.uid, now());
    if (!take.allowed) {
      const seconds = Math.ceil(take.retryAfterMs / 1000);
      log.warn({ retryAfterMs: take.retryAfterMs }, 'eviction endpoint rate limit reached for this pod');
      res.set('Retry-After', String(seconds));
      send(res, endpoint, 'RateLimited', `too many requests for pod ${pod.namespace}/${pod.name}; retry after ${seconds} s`);
      return undefined;
    }
    return { pod, log };
  }

  /** The token's pod as it is now; undefined (after answering 503) when the API server did not say. */
  async function standing(res: Response, endpoint: string, pod: PodIdentity, log: Logger): Promise<{ standing: PodStanding; facts: PodFacts | undefined } | undefined> {
    try {
      const facts = await deps.cluster.readPod(pod);
      return { standing: podStanding(facts, pod.uid), facts };
    } catch (err) {
      log.error({ err }, 'could not read the pod the token is bound to');
      send(res, endpoint, 'ClusterUnavailable', 'the Kubernetes API server did not answer reading the pod; retry later');
      return undefined;
    }
  }

  /** Refuses pods that are gone or not injected; the pod as read when the request may go on. */
  async function admitPod(res: Response, endpoint: string, pod: PodIdentity, log: Logger): Promise<PodFacts | undefined> {
    const read = await standing(res, endpoint, pod, log);
    if (read === undefined) return undefined;
    const found = read.standing;
    if (found === 'gone') {
      log.info('the pod the token is bound to is gone');
      send(res, endpoint, 'PodGone', `pod ${pod.namespace}/${pod.name} with uid ${pod.uid} no longer exists`);
      return undefined;
    }
    if (found === 'not-injected') {
      log.warn('refused: the pod is not injected by vault-courier');
      await recordEvent(log, pod, 'Warning', EVENT_REASONS.notInjected, `A token of this pod asked vault-courier to ${ASKED[endpoint] ?? endpoint} it, but the pod ${NOT_INJECTED}`);
      send(res, endpoint, 'NotInjected', `pod ${pod.namespace}/${pod.name} ${NOT_INJECTED}`);
      return undefined;
    }
    return read.facts;
  }

  /**
   * The condition after an /evict answer, best effort: it only informs (status, kubectl),
   * so a failure is logged and the answer stays the same. A PDB that keeps blocking writes
   * it once, not on every retry.
   */
  async function markRotation(pod: PodIdentity, log: Logger, previous: RotationState | undefined, state: RotationState): Promise<void> {
    if (previous !== undefined && previous.reason === state.reason && formatRotationMessage(previous) === formatRotationMessage(state)) return;
    try {
      const written = await deps.cluster.writeRotationCondition(pod, rotationCondition(state, new Date(now())));
      if (written.status !== 200) log.warn({ apiStatus: written.status, apiMessage: written.message, rotation: state.reason }, 'could not update the pod\'s rotation condition');
    } catch (err) {
      log.warn({ err, rotation: state.reason }, 'could not update the pod\'s rotation condition');
    }
  }

  /** The pod after a 404 or 409, which alone decide nothing; undefined when it cannot be read. */
  async function standingAfter(pod: PodIdentity, log: Logger): Promise<PodStanding | undefined> {
    try {
      return podStanding(await deps.cluster.readPod(pod), pod.uid);
    } catch (err) {
      log.warn({ err }, 'could not read the pod again after an ambiguous eviction answer');
      return undefined;
    }
  }

  /** The Eviction, held through a budget's 429 (EvictionHold) when the webhook can read the budget. */
  async function evictHeld(pod: PodIdentity): Promise<EvictionAnswer> {
    const first = await deps.cluster.evict(pod);
    const list = deps.cluster.listBudgets;
    const names = budgetNames(first.causes);
    if (first.status !== 429 || list === undefined || names.length === 0) return first;
    const until = Date.now() + hold.maxMs;
    while (Date.now() < until) {
      await sleep(hold.everyMs);
      const budgets = await list(pod.namespace).catch(() => undefined);
      if (budgets === undefined) return first;
      if (names.every((n) => (budgets.find((b) => b.name === n)?.disruptionsAllowed ?? 1) > 0)) return deps.cluster.evict(pod);
    }
    return first;
  }

  /** A budget refused: EvictionBlocked each time; past the earliest expiry also CredentialsExpired, once. */
  async function answerBlocked(res: Response, pod: PodIdentity, log: Logger, previous: RotationState | undefined, result: { message: string; causes: readonly string[] }): Promise<void> {
    const message = blockedMessage(result.message, result.causes);
    log.info({ apiMessage: result.message }, 'eviction blocked by a PodDisruptionBudget');
    await recordEvent(log, pod, 'Warning', EVENT_REASONS.blocked, message);
    const blocked = afterBlockedEviction(previous, budgetNames(result.causes), now());
    if (blocked.newlyExpired) {
      log.error({ earliestExpiry: previous?.earliestExpiry, blockedBy: blocked.state.blockedBy }, 'credentials expired while a PodDisruptionBudget blocks the eviction');
      await recordEvent(log, pod, 'Warning', EVENT_REASONS.expired, expiredMessage(previous?.earliestExpiry, previous?.lease, blocked.state.blockedBy));
    }
    await markRotation(pod, log, previous, blocked.state);
    send(res, 'evict', 'DisruptionBudget', message);
  }

  async function evictAndAnswer(req: Request, res: Response, pod: PodIdentity, log: Logger, previous: RotationState | undefined): Promise<void> {
    const endpoint = 'evict';
    let result;
    try {
      result = await evictHeld(pod);
    } catch (err) {
      log.error({ err }, 'the API server did not answer the eviction');
      send(res, endpoint, 'ClusterUnavailable', 'the Kubernetes API server did not answer the eviction; retry later');
      return;
    }
    const ambiguous = result.status === 404 || result.status === 409;
    const { reason } = evictionVerdict(result.status, ambiguous ? await standingAfter(pod, log) : undefined, result.causes.length);
    const why = note((req.body as { reason?: unknown } | undefined)?.reason);
    switch (reason) {
      case 'Evicted':
        log.info({ why }, 'eviction requested');
        await recordEvent(log, pod, 'Normal', EVENT_REASONS.requested, `Evicting the pod so its replacement gets new Vault credentials${why ? `: ${why}` : ''}`);
        await markRotation(pod, log, previous, afterEviction(previous, { reason: 'evicting' }));
        send(res, endpoint, reason, result.message);
        return;
      case 'DisruptionBudget':
        await answerBlocked(res, pod, log, previous, result);
        return;
      case 'EvictionRefused': {
        log.error({ apiStatus: result.status, apiMessage: result.message }, 'the API server refused the eviction');
        const message = `the API server answered ${result.status} to the eviction: ${result.message}`;
        await recordEvent(log, pod, 'Warning', EVENT_REASONS.refused, `Eviction for credential rotation failed: ${message}. Check the vault-courier webhook's RBAC; the sidecar keeps retrying.`);
        send(res, endpoint, reason, message);
        return;
      }
      case 'ClusterUnavailable':
        log.warn({ apiStatus: result.status, apiMessage: result.message }, 'the API server cannot take the eviction now');
        send(res, endpoint, reason, `the API server answered ${result.status} to the eviction (${result.message}); retry later`);
        return;
      default:
        log.info({ apiStatus: result.status, apiMessage: result.message, answer: reason }, 'ambiguous eviction answer resolved by reading the pod');
        send(res, endpoint, reason, reason === 'EvictionConflict' ? `the API server answered ${result.status} while the pod is still there (${result.message}); retry` : result.message);
    }
  }

  router.post(EVICT_PATH, async (req, res) => {
    const endpoint = 'evict';
    const auth = await authorize(req, res, endpoint);
    if (auth === undefined) return;
    const { pod, log } = auth;
    const facts = await admitPod(res, endpoint, pod, log);
    if (facts === undefined) return;

    const health = await deps.vaultHealth();
    if (!health.ok) {
      log.warn({ reason: health.reason }, 'eviction refused: the replacement pod could not log in to Vault');
      // Said on the pod, as a blocking PDB is: the pod outlives its deadline, and why shows in kubectl.
      await recordEvent(log, pod, 'Warning', EVENT_REASONS.held, `Eviction for credential rotation held: ${health.reason}, so a replacement pod could not get credentials; the sidecar retries until Vault serves again`);
      send(res, endpoint, 'VaultUnavailable', `${health.reason}: not evicting, the replacement pod could not get credentials; retry later`);
      return;
    }
    const turn = await turnOf(pod, facts, log);
    if (turn?.turn === 'wait') {
      const budget = turn.budget ?? '';
      const why =
        turn.why === 'behind'
          ? `${turn.ahead} pod(s) of PodDisruptionBudget ${budget} expire sooner and go first (the first: ${turn.first})`
          : `the pod is not Ready yet: evicting it now would only restart it (PodDisruptionBudget ${budget})`;
      log.info({ budget, why: turn.why, ...(turn.why === 'behind' ? { ahead: turn.ahead, first: turn.first } : {}), retryAfterSeconds: turn.retryAfterSeconds }, 'eviction queued');
      await markRotation(pod, log, facts.rotation, afterEviction(facts.rotation, { reason: 'evictionBlocked', blockedBy: [budget] }));
      res.set('Retry-After', String(turn.retryAfterSeconds));
      send(res, endpoint, 'EvictionQueued', `${why}; retry after ${turn.retryAfterSeconds} s`);
      return;
    }
    await evictAndAnswer(req, res, pod, log, facts.rotation);
  });

  router.post(EXPIRY_WARNING_PATH, async (req, res) => {
    const endpoint = 'expiry-warning';
    const auth = await authorize(req, res, endpoint);
    if (auth === undefined) return;
    const { pod, log } = auth;
    if ((await admitPod(res, endpoint, pod, log)) === undefined) return;
    const body = (req.body ?? {}) as { expiresAt?: unknown; lease?: unknown; why?: unknown };
    const expiresAt = typeof body.expiresAt === 'string' ? new Date(body.expiresAt) : undefined;
    if (expiresAt === undefined || Number.isNaN(expiresAt.getTime())) {
      // The sidecar always sends one: a sidecar and a webhook of different versions, which retrying cannot fix.
      await recordEvent(log, pod, 'Warning', EVENT_REASONS.invalid, "The vault-courier sidecar's expiry warning was refused: body.expiresAt must be an ISO 8601 time (do the sidecar and webhook versions match?)");
      send(res, endpoint, 'BadRequest', 'body.expiresAt must be an ISO 8601 time');
      return;
    }
    const lease = note(body.lease);
    const why = note(body.why);
    const message =
      `Vault credentials expire at ${expiresAt.toISOString()}${lease ? ` (${lease})` : ''} and this pod is not rotated automatically` +
      `${why ? ` (${why})` : ''}: replace it before then, or its application loses access`;
    log.info({ expiresAt: expiresAt.toISOString() }, 'credentials expiring on a pod that is not rotated');
    await recordEvent(log, pod, 'Warning', EVENT_REASONS.expiring, message);
    send(res, endpoint, 'Warned', 'warning recorded');
  });

  router.post(DEADLINE_PATH, async (req, res) => {
    const endpoint = 'deadline';
    const auth = await authorize(req, res, endpoint);
    if (auth === undefined) return;
    const { pod, log } = auth;
    const admitted = await admitPod(res, endpoint, pod, log);
    if (admitted === undefined) return;
    const report = parseDeadlineReport(req.body ?? {});
    if ('problems' in report) {
      // Like /expiry-warning: only a sidecar of another version sends this.
      await recordEvent(log, pod, 'Warning', EVENT_REASONS.deadlineInvalid, `The vault-courier sidecar's deadline report was refused: ${report.problems.join('; ')} (do the sidecar and webhook versions match?)`);
      send(res, endpoint, 'BadRequest', report.problems.join('; '));
      return;
    }
    let written;
    try {
      written = await deps.cluster.writeRotationCondition(pod, rotationCondition(report.state, new Date(now())));
    } catch (err) {
      log.error({ err }, 'the API server did not answer the pods/status patch');
      send(res, endpoint, 'ClusterUnavailable', 'the Kubernetes API server did not answer the pods/status patch; retry later');
      return;
    }
    if (written.status === 404) {
      send(res, endpoint, 'PodGone', `pod ${pod.namespace}/${pod.name} with uid ${pod.uid} no longer exists`);
      return;
    }
    if (written.status !== 200) {
      const message = `the API server answered ${written.status} to the pods/status patch: ${written.message}`;
      log.error({ apiStatus: written.status, apiMessage: written.message }, 'the API server refused the rotation condition');
      await recordEvent(log, pod, 'Warning', EVENT_REASONS.statusRefused, `The rotation deadline could not be written to the pod's status: ${message}. Check the vault-courier webhook's RBAC (pods/status patch).`);
      send(res, endpoint, 'StatusRefused', message);
      return;
    }
    // Only a pod that will be evicted queues: a warned one (a Job, rotate "false") keeps its deadline.
    const queue = report.state.reason === ROTATION_REASONS.scheduled ? longestLead(await budgetsOf(pod, admitted, log)) : undefined;
    log.info({ rotation: report.state.reason, deadline: report.state.deadline, ...(queue === undefined ? {} : { budget: queue.budget, leadMs: queue.leadMs }) }, 'rotation deadline recorded on the pod');
    send(res, endpoint, 'Recorded', queue === undefined ? 'deadline recorded' : `deadline recorded; PodDisruptionBudget ${queue.budget} needs ${queue.leadMs / 1000} s to rotate its ${queue.pods} pod(s)`, queue === undefined ? {} : { queue });
  });

  // body-parser's refusals are answers too: without this the app's handler sent `{ error }`,
  // not a Status the sidecar reads (found by the fuzzer in test/integration/evict.test.ts).
  router.use(ENDPOINT_PATHS, (err: unknown, req: Request, res: Response, next: NextFunction) => {
    const problem = bodyProblem(err);
    if (problem === undefined || res.headersSent) {
      next(err);
      return;
    }
    // Mounted on the endpoint's path, so baseUrl is that path.
    const endpoint = req.baseUrl.slice(1);
    deps.logger.warn({ endpoint, problem }, 'eviction endpoint refused a request body');
    send(res, endpoint, 'BadRequest', problem);
  });

  return router;
}

/**
 * The `routes` option of startWebhook that serves POST /evict and /expiry-warning, acting
 * in the cluster as `kubeConfig` (the webhook's own identity) and checking the Vault the
 * webhook injects.
 */
export function evictRoutes(logger: Logger, kubeConfig: KubeConfig, options: { readonly hold?: EvictionHold } = {}) {
  return ({ registry, config }: { readonly registry: Registry; readonly config: InjectionConfig }): Router[] => [
    createEvictRouter({
      logger,
      registry,
      ...options,
      ...createEvictDeps({ kubeConfig, vaultAddr: config.vaultAddr, ...(config.vaultCaPem === undefined ? {} : { vaultCaPem: config.vaultCaPem }) }),
    }),
  ];
}
