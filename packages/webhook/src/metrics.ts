/**
 * The admission metrics, on the registry the metrics port serves. Labels are bounded
 * (outcome, reason): never a pod name, a namespace or anything a user writes.
 */
import { Counter, Histogram, type Registry } from 'prom-client';

export interface WebhookMetrics {
  readonly reviews: Counter<'outcome' | 'reason'>;
  readonly duration: Histogram<'outcome'>;
  readonly tlsReloads: Counter<'result'>;
}

function existing<T>(registry: Registry, name: string): T | undefined {
  return registry.getSingleMetric(name) as T | undefined;
}

/** Idempotent per registry, so several apps (tests) can share one. */
export function createWebhookMetrics(registry: Registry): WebhookMetrics {
  return {
    reviews:
      existing(registry, 'vault_courier_admission_reviews_total') ??
      new Counter({
        name: 'vault_courier_admission_reviews_total',
        help: 'AdmissionReviews answered (POST /mutate and /warn), by outcome (injected, skipped, denied, warned, ignored, error) and reason',
        labelNames: ['outcome', 'reason'],
        registers: [registry],
      }),
    duration:
      existing(registry, 'vault_courier_admission_review_duration_seconds') ??
      new Histogram({
        name: 'vault_courier_admission_review_duration_seconds',
        help: 'Time from request received to response sent for POST /mutate and /warn, by outcome',
        labelNames: ['outcome'],
        // Admission is in-process work: most answers take well under a millisecond; the
        // API server gives up after timeoutSeconds (5 s by default).
        buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
        registers: [registry],
      }),
    tlsReloads:
      existing(registry, 'vault_courier_tls_reloads_total') ??
      new Counter({
        name: 'vault_courier_tls_reloads_total',
        help: 'Serving certificate reloads after the files changed, by result (ok, failed)',
        labelNames: ['result'],
        registers: [registry],
      }),
  };
}
