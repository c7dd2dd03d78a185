/**
 * `vault-courier status`: reads the cluster the kubeconfig names (pods, namespaces,
 * PodDisruptionBudgets, the webhook's registration) and prints status-report.ts's table or
 * JSON. A thin shell: every decision is in pod-status.ts. Read-only: it needs list on pods
 * and poddisruptionbudgets and get/list on namespaces; reading the
 * MutatingWebhookConfigurations is optional (a "why" is less precise without it).
 *
 *   vault-courier status [-n NAMESPACE | -A] [--kubeconfig FILE] [-o table|json]
 */
import { parseArgs } from 'node:util';
import { AdmissionregistrationV1Api, ApiException, CoreV1Api, KubeConfig, PolicyV1Api, type V1Namespace } from '@kubernetes/client-node';
import { WEBHOOK_NAME } from '@vault-courier/core';
import type { WebhookFacts } from './pod-status.ts';
import { buildReport, formatJson, formatTable, type ClusterFacts } from './status-report.ts';

export const STATUS_USAGE = 'usage: vault-courier status [-n NAMESPACE | -A] [--kubeconfig FILE] [-o table|json]';

async function readWebhook(kc: KubeConfig): Promise<WebhookFacts> {
  try {
    const list = await kc.makeApiClient(AdmissionregistrationV1Api).listMutatingWebhookConfiguration();
    const hook = list.items.flatMap((c) => c.webhooks ?? []).find((w) => w.name === WEBHOOK_NAME);
    return hook === undefined ? { state: 'absent' } : { state: 'registered', failurePolicy: hook.failurePolicy ?? 'Fail', namespaceSelector: hook.namespaceSelector };
  } catch (err) {
    if (err instanceof ApiException && (err.code === 401 || err.code === 403)) return { state: 'unknown' };
    throw err;
  }
}

async function readFacts(kc: KubeConfig, namespace: string | null): Promise<ClusterFacts> {
  const core = kc.makeApiClient(CoreV1Api);
  const policy = kc.makeApiClient(PolicyV1Api);
  const [pods, namespaces, budgets, webhook] = await Promise.all([
    namespace === null ? core.listPodForAllNamespaces() : core.listNamespacedPod({ namespace }),
    namespace === null ? core.listNamespace().then((l) => l.items) : core.readNamespace({ name: namespace }).then((n): V1Namespace[] => [n]),
    namespace === null ? policy.listPodDisruptionBudgetForAllNamespaces() : policy.listNamespacedPodDisruptionBudget({ namespace }),
    readWebhook(kc),
  ]);
  return { pods: pods.items, namespaces, budgets: budgets.items, webhook };
}

/** The API server's Status message, bounded. */
function apiMessage(err: ApiException<unknown>): string {
  const body = typeof err.body === 'string' ? err.body : (JSON.stringify(err.body) ?? '');
  return (/"message":"([^"]*)"/.exec(body)?.[1] ?? body).slice(0, 300);
}

/** An API failure as one line naming the cluster and what to check. */
function explain(err: unknown, kc: KubeConfig): string {
  const server = kc.getCurrentCluster()?.server ?? '(no cluster in the kubeconfig)';
  if (err instanceof ApiException) {
    const message = apiMessage(err);
    if (err.code === 401) return `the API server at ${server} refused the kubeconfig's credentials (401): ${message}`;
    if (err.code === 403) return `forbidden by ${server} (403): ${message}. status needs list on pods and poddisruptionbudgets, and get/list on namespaces`;
    if (err.code === 404) return `not found (404): ${message}. Does the namespace exist?`;
    return `the API server at ${server} answered ${err.code}: ${message}`;
  }
  // fetch's network errors carry the system code on their cause (ECONNREFUSED, ENOTFOUND, …).
  const code = (err as { cause?: { code?: unknown } }).cause?.code;
  const detail = typeof code === 'string' ? code : err instanceof Error ? err.message : String(err);
  return `cannot reach the API server at ${server} (${detail}): check --kubeconfig or KUBECONFIG`;
}

interface StatusOptions {
  readonly output: 'table' | 'json';
  readonly kubeconfig: string | undefined;
  /** null: every namespace (-A); undefined: the kubeconfig context's. */
  readonly namespace: string | null | undefined;
}

/** The flags, or the exit status when there is nothing to run (help, usage). */
function parseStatusArgs(argv: readonly string[]): StatusOptions | number {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      namespace: { type: 'string', short: 'n' },
      'all-namespaces': { type: 'boolean', short: 'A' },
      kubeconfig: { type: 'string' },
      output: { type: 'string', short: 'o', default: 'table' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || positionals[0] !== 'status' || positionals.length > 1) {
    console.error(STATUS_USAGE);
    return values.help ? 0 : 2;
  }
  if (values.output !== 'table' && values.output !== 'json') throw new Error(`-o/--output: "${values.output}" is not an output format; use table or json`);
  if (values.namespace !== undefined && values['all-namespaces']) throw new Error('-n/--namespace and -A/--all-namespaces exclude each other: pick one');
  return { output: values.output, kubeconfig: values.kubeconfig, namespace: values['all-namespaces'] ? null : values.namespace };
}

function loadKubeConfig(file: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  if (file !== undefined) kc.loadFromFile(file);
  else kc.loadFromDefault();
  return kc;
}

export async function runStatus(argv: readonly string[], out: (text: string) => void = (t) => process.stdout.write(t), now: () => number = Date.now): Promise<number> {
  const options = parseStatusArgs(argv);
  if (typeof options === 'number') return options;
  const kc = loadKubeConfig(options.kubeconfig);
  // As kubectl: the context's namespace, else default.
  const namespace = options.namespace === undefined ? (kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default') : options.namespace;
  let facts: ClusterFacts;
  try {
    facts = await readFacts(kc, namespace);
  } catch (err) {
    throw new Error(explain(err, kc), { cause: err });
  }
  const report = buildReport(facts, namespace);
  out(options.output === 'json' ? formatJson(report) : formatTable(report, now()));
  return 0;
}
