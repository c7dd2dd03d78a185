/**
 * The HTTP shells. `createApp` is the HTTPS port: POST /mutate, POST /warn (the warn-only
 * workload webhook), then the routes other parts add (POST /evict). `createMetricsApp` is
 * the plain-HTTP port for Prometheus and the kubelet's probes. Neither reads the
 * environment or a file: main.ts and server.ts do.
 */
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { Registry } from 'prom-client';
import type { InjectionConfig, Logger } from '@vault-courier/core';
import { checkInjectionConfig, CourierError, flatFieldsLogger, MUTATE_PATH, WARN_PATH } from '@vault-courier/core';
import { createWebhookMetrics, type WebhookMetrics } from './metrics.ts';
import { parseAdmissionReview, reviewAdmission, reviewWorkload, type AdmissionRequest, type Outcome } from './review.ts';

/**
 * A pod is at most ~1.5 MiB (etcd's request limit), and a CREATE review carries it once;
 * anything larger is not a review the API server sends.
 */
export const DEFAULT_BODY_LIMIT = '2mb';
/** An UPDATE review of a workload carries the object and the old one. */
export const WARN_BODY_LIMIT = '4mb';

export interface AppDeps {
  readonly config: InjectionConfig;
  readonly logger: Logger;
  readonly registry: Registry;
  /** Mounted after POST /mutate, e.g. the eviction endpoint's router. */
  readonly routes?: readonly Router[];
  readonly bodyLimit?: string;
}

function elapsedSeconds(started: bigint): number {
  return Number(process.hrtime.bigint() - started) / 1e9;
}

type Finish = (outcome: Outcome, reason: string) => void;

/** Parses the review (HTTP 400 if it is not one) and hands the request on with a timed finish. */
function reviewHandler(deps: AppDeps, metrics: WebhookMetrics, answer: (request: AdmissionRequest, res: Response, finish: Finish) => void) {
  return (req: Request, res: Response): void => {
    const started = process.hrtime.bigint();
    const finish: Finish = (outcome, reason) => {
      metrics.reviews.inc({ outcome, reason });
      metrics.duration.observe({ outcome }, elapsedSeconds(started));
    };
    const parsed = parseAdmissionReview(req.body);
    if (!parsed.ok) {
      deps.logger.warn({ reason: parsed.reason, status: 400 }, 'malformed admission review');
      finish('error', 'malformed');
      res.status(400).json({ error: parsed.reason });
      return;
    }
    answer(parsed.request, res, finish);
  };
}

function mutateHandler(deps: AppDeps, metrics: WebhookMetrics) {
  // A child per review and wildcard redaction were a sixth of the webhook's CPU at its maximum (docs/performance.md).
  const reviewLog = flatFieldsLogger(deps.logger);
  return reviewHandler(deps, metrics, (request, res, finish) => {
    const ids = { uid: request.uid, namespace: request.namespace ?? '' };
    try {
      const result = reviewAdmission(request, deps.config);
      const fields = { ...ids, pod: result.pod, decision: result.outcome, reason: result.reason, dryRun: request.dryRun === true };
      const message = result.review.response.status?.message;
      if (result.outcome === 'denied') reviewLog.info({ ...fields, message }, 'pod refused');
      else reviewLog.info(fields, result.outcome === 'injected' ? 'pod injected' : 'pod admitted unchanged');
      finish(result.outcome, result.reason);
      res.status(200).json(result.review);
    } catch (err) {
      // A bug here must not admit a pod without its secrets: refuse, and say where to look.
      deps.logger.error({ ...ids, err, decision: 'error' }, 'admission review failed');
      finish('error', 'internal');
      res.status(200).json({
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        response: { uid: request.uid, allowed: false, status: { code: 500, reason: 'InternalError', message: `vault-courier: internal error while injecting (review ${request.uid}); see the webhook's logs` } },
      });
    }
  });
}

function warnHandler(deps: AppDeps, metrics: WebhookMetrics) {
  return reviewHandler(deps, metrics, (request, res, finish) => {
    const log = deps.logger.child({ uid: request.uid, namespace: request.namespace ?? '' });
    try {
      const result = reviewWorkload(request, deps.config);
      log.info({ object: result.object, decision: result.outcome, reason: result.reason, warnings: result.warnings, dryRun: request.dryRun === true }, result.outcome === 'warned' ? 'workload warned' : 'workload admitted without warnings');
      finish(result.outcome, result.reason);
      res.status(200).json(result.review);
    } catch (err) {
      // Warn-only: a bug here costs the warning, never the write.
      log.error({ err, decision: 'error' }, 'workload review failed');
      finish('error', 'internal');
      res.status(200).json({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: request.uid, allowed: true } });
    }
  });
}

/** body-parser's errors (bad JSON, too large) become 4xx answers with a reason; the server keeps serving. */
function errorHandler(logger: Logger, metrics: WebhookMetrics) {
  return (err: unknown, req: Request, res: Response, next: NextFunction): void => {
    if (res.headersSent) {
      next(err);
      return;
    }
    const status = (err as { status?: unknown }).status;
    const code = typeof status === 'number' && status >= 400 && status < 500 ? status : 500;
    // Never the parser's message: V8 quotes the body in it, and a pod's env values are secrets.
    const reason = code === 413 ? 'the request body is larger than the webhook accepts' : code < 500 ? 'the request body is not valid JSON: send the AdmissionReview as UTF-8 JSON' : 'internal error';
    logger.warn({ ...(code === 500 ? { err } : { type: (err as { type?: unknown }).type }), status: code, path: req.path }, 'request refused');
    if (req.path === MUTATE_PATH || req.path === WARN_PATH) metrics.reviews.inc({ outcome: 'error', reason: code === 413 ? 'too-large' : 'malformed' });
    res.status(code).json({ error: reason });
  };
}

/**
 * Refuses, at start, a configuration every injected container would refuse:
 * a webhook that admits pods whose init container then loops is worse than one that does
 * not start.
 */
export function assertInjectable(config: InjectionConfig): void {
  const problems = checkInjectionConfig(config);
  if (problems.length > 0) {
    throw new CourierError('config', `invalid configuration: the injected containers would refuse it:\n  ${problems.map((p) => `${p.variable}: ${p.problem}`).join('\n  ')}`);
  }
}

export function createApp(deps: AppDeps): express.Express {
  assertInjectable(deps.config);
  const metrics = createWebhookMetrics(deps.registry);
  const app = express();
  app.disable('x-powered-by');
  app.post(MUTATE_PATH, express.json({ limit: deps.bodyLimit ?? DEFAULT_BODY_LIMIT, strict: true }), mutateHandler(deps, metrics));
  app.post(WARN_PATH, express.json({ limit: deps.bodyLimit ?? WARN_BODY_LIMIT, strict: true }), warnHandler(deps, metrics));
  for (const router of deps.routes ?? []) app.use(router);
  app.use(errorHandler(deps.logger, metrics));
  return app;
}

export interface MetricsAppDeps {
  readonly registry: Registry;
  /** False while starting and once draining: the Service stops sending reviews here. */
  readonly isReady: () => boolean;
}

export function createMetricsApp(deps: MetricsAppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/healthz', (_req, res) => {
    res.status(200).type('text/plain').send('ok\n');
  });
  app.get('/readyz', (_req, res) => {
    const ready = deps.isReady();
    res.status(ready ? 200 : 503).type('text/plain').send(ready ? 'ok\n' : 'not ready\n');
  });
  app.get('/metrics', async (_req, res) => {
    res.type(deps.registry.contentType).send(await deps.registry.metrics());
  });
  return app;
}
