/**
 * `POST /evict` and `POST /expiry-warning`: the sidecar's only way to act on its own pod.
 * The pod's service account holds no rights; the sidecar presents a projected token
 * (audience `vault-courier`) and the webhook acts, with its own rights, on exactly the pod
 * that token is bound to. /evict answers with the Eviction API's own status (201, 429,
 * 404, 409) so the sidecar's retry logic is the one it would have against the API server;
 * 503 when Vault (or the cluster's keys) cannot be reached, 401/403 for a bad token.
 * Contract: docs/eviction-endpoint.md.
 */
import express, { type Request, type Response, type Router } from 'express';
import { Counter, type Registry } from 'prom-client';
import type { KubeConfig } from '@kubernetes/client-node';
import type { InjectionConfig, Logger, PodIdentity } from '@vault-courier/core';
import { createEvictionCluster, type EvictionCluster } from './cluster.ts';
import { createRateLimiter, type TokenBucketOptions } from './rate-limit.ts';
import { createRefreshingKeySet, createTokenVerifier, type TokenVerifier } from './token-verifier.ts';
import { createVaultHealthCheck, type VaultHealthCheck } from './vault-health.ts';

export const EVICT_PATH = '/evict';
export const EXPIRY_WARNING_PATH = '/expiry-warning';

export const EVENT_REASONS = {
  requested: 'EvictionRequested',
  blocked: 'EvictionBlocked',
  expiring: 'CredentialsExpiring',
} as const;

export const DEFAULT_RATE_LIMIT: TokenBucketOptions = { capacity: 5, refillPerSecond: 0.2 };

export interface EvictRouterDeps {
  readonly logger: Logger;
  /** The webhook app's registry: the outcome counter is served on its /metrics. */
  readonly registry: Registry;
  readonly verifyToken: TokenVerifier;
  readonly cluster: Pick<EvictionCluster, 'evict' | 'recordEvent' | 'coveringBudgets'>;
  readonly vaultHealth: VaultHealthCheck;
  readonly now?: () => number;
  readonly rateLimit?: TokenBucketOptions;
}

/** The production wiring: the webhook's KubeConfig (in a pod: loadFromCluster) and Vault address. */
export function createEvictDeps(options: { kubeConfig: KubeConfig; vaultAddr: string; vaultCaPem?: string }): Pick<EvictRouterDeps, 'verifyToken' | 'cluster' | 'vaultHealth'> {
  const cluster = createEvictionCluster(options.kubeConfig);
  return {
    cluster,
    verifyToken: createTokenVerifier({ getKey: createRefreshingKeySet({ fetchJwks: cluster.fetchJwks }), issuer: cluster.fetchIssuer }),
    vaultHealth: createVaultHealthCheck({ addr: options.vaultAddr, ...(options.vaultCaPem === undefined ? {} : { caPem: options.vaultCaPem }) }),
  };
}

type Outcome = 'requested' | 'blocked' | 'gone' | 'conflict' | 'vault_unavailable' | 'unavailable' | 'unauthorized' | 'forbidden' | 'rate_limited' | 'error' | 'warned' | 'bad_request';

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

function answer(res: Response, code: number, message: string, extra: Record<string, unknown> = {}): void {
  res.status(code).json({ kind: 'Status', apiVersion: 'v1', status: code < 300 ? 'Success' : 'Failure', code, message, ...extra });
}

export function createEvictRouter(deps: EvictRouterDeps): Router {
  const router = express.Router();
  const now = deps.now ?? Date.now;
  const limiter = createRateLimiter(deps.rateLimit ?? DEFAULT_RATE_LIMIT);
  const counter = outcomeCounter(deps.registry);
  router.use([EVICT_PATH, EXPIRY_WARNING_PATH], express.json({ limit: '4kb', strict: true }));

  /** Verifies the token and the rate limit; answers and returns undefined when refused. */
  async function authorize(req: Request, res: Response, endpoint: string): Promise<{ pod: PodIdentity; log: Logger } | undefined> {
    const count = (outcome: Outcome) => counter.inc({ endpoint, outcome });
    const jwt = bearer(req);
    if (jwt === undefined) {
      count('unauthorized');
      res.set('WWW-Authenticate', 'Bearer');
      answer(res, 401, 'a bearer token is required: the projected service-account token with audience vault-courier');
      return undefined;
    }
    const verified = await deps.verifyToken(jwt);
    if (!verified.ok) {
      count(verified.status === 401 ? 'unauthorized' : verified.status === 403 ? 'forbidden' : 'unavailable');
      deps.logger.warn({ endpoint, status: verified.status, reason: verified.reason }, 'eviction endpoint refused a token');
      answer(res, verified.status, verified.reason);
      return undefined;
    }
    const { pod } = verified;
    const log = deps.logger.child({ endpoint, namespace: pod.namespace, pod: pod.name, uid: pod.uid });
    const take = limiter.take(pod.uid, now());
    if (!take.allowed) {
      count('rate_limited');
      log.warn({ retryAfterMs: take.retryAfterMs }, 'eviction endpoint rate limit reached for this pod');
      res.set('Retry-After', String(Math.ceil(take.retryAfterMs / 1000)));
      answer(res, 429, `too many requests for pod ${pod.namespace}/${pod.name}; retry after ${Math.ceil(take.retryAfterMs / 1000)} s`, { reason: 'TooManyRequests' });
      return undefined;
    }
    return { pod, log };
  }

  async function recordEvent(log: Logger, pod: PodIdentity, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    try {
      await deps.cluster.recordEvent(pod, { type, reason, message });
    } catch (err) {
      log.warn({ err, eventReason: reason }, 'could not record an Event on the pod');
    }
  }

  async function blockedMessage(log: Logger, pod: PodIdentity, apiMessage: string, causes: readonly string[]): Promise<string> {
    let budgets: string[] = [];
    try {
      budgets = await deps.cluster.coveringBudgets(pod);
    } catch (err) {
      log.warn({ err }, 'could not list the PodDisruptionBudgets covering the pod');
    }
    const by = budgets.length > 0 ? `PodDisruptionBudget ${budgets.join(', ')}` : 'a PodDisruptionBudget';
    const detail = causes.length > 0 ? causes.join('; ') : apiMessage;
    return `Eviction for credential rotation blocked by ${by}: ${detail}. The sidecar retries with backoff.`;
  }

  router.post(EVICT_PATH, async (req, res) => {
    const endpoint = 'evict';
    const count = (outcome: Outcome) => counter.inc({ endpoint, outcome });
    const auth = await authorize(req, res, endpoint);
    if (auth === undefined) return;
    const { pod, log } = auth;

    const health = await deps.vaultHealth();
    if (!health.ok) {
      count('vault_unavailable');
      log.warn({ reason: health.reason }, 'eviction refused: the replacement pod could not log in to Vault');
      answer(res, 503, `${health.reason}: not evicting, the replacement pod could not get credentials; retry later`, { reason: 'ServiceUnavailable' });
      return;
    }

    let result;
    try {
      result = await deps.cluster.evict(pod);
    } catch (err) {
      count('unavailable');
      log.error({ err }, 'the API server did not answer the eviction');
      answer(res, 503, 'the Kubernetes API server did not answer the eviction; retry later', { reason: 'ServiceUnavailable' });
      return;
    }

    const why = note((req.body as { reason?: unknown } | undefined)?.reason);
    switch (result.status) {
      case 200:
      case 201:
        count('requested');
        log.info({ why }, 'eviction requested');
        await recordEvent(log, pod, 'Normal', EVENT_REASONS.requested, `Evicting the pod so its replacement gets new Vault credentials${why ? `: ${why}` : ''}`);
        answer(res, 201, result.message);
        return;
      case 429: {
        count('blocked');
        const message = await blockedMessage(log, pod, result.message, result.causes);
        log.info({ apiMessage: result.message }, 'eviction blocked by a PodDisruptionBudget');
        await recordEvent(log, pod, 'Warning', EVENT_REASONS.blocked, message);
        answer(res, 429, message, { reason: 'TooManyRequests' });
        return;
      }
      case 404:
        count('gone');
        log.info('eviction: the pod is already gone');
        answer(res, 404, result.message, { reason: 'NotFound' });
        return;
      case 409:
        count('conflict');
        log.info('eviction: the pod with this name is another pod (uid precondition)');
        answer(res, 409, result.message, { reason: 'Conflict' });
        return;
      default:
        count('error');
        log.error({ apiStatus: result.status, apiMessage: result.message }, 'the API server refused the eviction');
        answer(res, 502, `the API server answered ${result.status} to the eviction: ${result.message}`, { reason: 'BadGateway' });
    }
  });

  router.post(EXPIRY_WARNING_PATH, async (req, res) => {
    const auth = await authorize(req, res, 'expiry-warning');
    if (auth === undefined) return;
    const { pod, log } = auth;
    const body = (req.body ?? {}) as { expiresAt?: unknown; lease?: unknown; why?: unknown };
    const expiresAt = typeof body.expiresAt === 'string' ? new Date(body.expiresAt) : undefined;
    if (expiresAt === undefined || Number.isNaN(expiresAt.getTime())) {
      counter.inc({ endpoint: 'expiry-warning', outcome: 'bad_request' });
      answer(res, 400, 'body.expiresAt must be an ISO 8601 time', { reason: 'BadRequest' });
      return;
    }
    const lease = note(body.lease);
    const why = note(body.why);
    const message =
      `Vault credentials expire at ${expiresAt.toISOString()}${lease ? ` (${lease})` : ''} and this pod is not rotated automatically` +
      `${why ? ` (${why})` : ''}: replace it before then, or its application loses access`;
    counter.inc({ endpoint: 'expiry-warning', outcome: 'warned' });
    log.info({ expiresAt: expiresAt.toISOString() }, 'credentials expiring on a pod that is not rotated');
    await recordEvent(log, pod, 'Warning', EVENT_REASONS.expiring, message);
    answer(res, 201, 'warning recorded');
  });

  return router;
}

/**
 * The `routes` option of startWebhook that serves POST /evict and /expiry-warning, acting
 * in the cluster as `kubeConfig` (the webhook's own identity) and checking the Vault the
 * webhook injects.
 */
export function evictRoutes(logger: Logger, kubeConfig: KubeConfig) {
  return ({ registry, config }: { readonly registry: Registry; readonly config: InjectionConfig }): Router[] => [
    createEvictRouter({
      logger,
      registry,
      ...createEvictDeps({ kubeConfig, vaultAddr: config.vaultAddr, ...(config.vaultCaPem === undefined ? {} : { vaultCaPem: config.vaultCaPem }) }),
    }),
  ];
}
