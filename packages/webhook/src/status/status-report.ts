/**
 * The output of `vault-courier status`: the report as data (`-o json`, stable: its shape is
 * documented in docs/contract.md, "Rotation status") and as the table an SRE reads. Pure:
 * the time is passed in.
 */
import type { V1Namespace, V1Pod, V1PodDisruptionBudget } from '@kubernetes/client-node';
import { ANNOTATIONS, STATUS_INJECTED } from '@vault-courier/core';
import { podStatusLine, type InjectedLine, type NotInjectedLine, type WebhookFacts } from './pod-status.ts';

export const REPORT_API_VERSION = 'vault-courier.io/v1alpha1';
export const REPORT_KIND = 'StatusReport';

export interface StatusReport {
  readonly apiVersion: typeof REPORT_API_VERSION;
  readonly kind: typeof REPORT_KIND;
  /** The namespace looked at, or null for the whole cluster (-A). */
  readonly namespace: string | null;
  readonly injected: readonly InjectedLine[];
  readonly notInjected: readonly NotInjectedLine[];
}

export interface ClusterFacts {
  readonly pods: readonly V1Pod[];
  readonly namespaces: readonly V1Namespace[];
  readonly budgets: readonly V1PodDisruptionBudget[];
  readonly webhook: WebhookFacts;
}

const byPlace = (a: { namespace: string; pod: string }, b: { namespace: string; pod: string }) => a.namespace.localeCompare(b.namespace) || a.pod.localeCompare(b.pod);

export function buildReport(facts: ClusterFacts, namespace: string | null): StatusReport {
  const namespaces = new Map(facts.namespaces.map((n) => [n.metadata?.name ?? '', n]));
  const injected: InjectedLine[] = [];
  const notInjected: NotInjectedLine[] = [];
  for (const pod of facts.pods) {
    const line = podStatusLine(pod, namespaces.get(pod.metadata?.namespace ?? ''), facts.budgets, facts.webhook);
    if (line?.kind === 'injected') injected.push(line.line);
    else if (line?.kind === 'not-injected') notInjected.push(line.line);
  }
  return { apiVersion: REPORT_API_VERSION, kind: REPORT_KIND, namespace, injected: injected.sort(byPlace), notInjected: notInjected.sort(byPlace) };
}

/** `4m05s`, `2h03m`, `12s`: the distance an SRE reads at a glance. */
export function formatDuration(ms: number): string {
  const s = Math.round(Math.abs(ms) / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86_400)}d${String(Math.floor((s % 86_400) / 3600)).padStart(2, '0')}h`;
}

/** `2026-12-01T10:15:00Z (in 4m05s)`, `… (12s ago)`, or `-`. */
export function formatWhen(isoTime: string | null, nowMs: number): string {
  if (isoTime === null) return '-';
  const at = Date.parse(isoTime);
  const delta = at - nowMs;
  return `${new Date(at).toISOString().replace(/\.\d+Z$/, 'Z')} (${delta >= 0 ? `in ${formatDuration(delta)}` : `${formatDuration(delta)} ago`})`;
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('   ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

const list = (names: readonly string[]) => (names.length > 0 ? names.join(',') : '-');

function rotationCell(line: InjectedLine): string {
  if ((line.rotation === 'EvictionBlocked' || line.rotation === 'Expired') && line.lastBlockedBy.length > 0) return `${line.rotation}(${line.lastBlockedBy.join(',')})`;
  return line.rotation;
}

export function formatTable(report: StatusReport, nowMs: number): string {
  const out: string[] = [];
  const scope = report.namespace === null ? 'all namespaces' : `namespace ${report.namespace}`;
  if (report.injected.length > 0) {
    out.push(
      table(
        ['NAMESPACE', 'POD', 'SECRETS', 'EARLIEST-EXPIRY', 'DEADLINE', 'ROTATION', 'BLOCKED-BY'],
        report.injected.map((l) => [l.namespace, l.pod, list(l.secrets), formatWhen(l.earliestExpiry, nowMs), formatWhen(l.deadline, nowMs), rotationCell(l), list(l.blockedBy)]),
      ),
    );
  } else out.push(`No injected pods in ${scope}.`);
  const problems = report.injected.filter((l) => l.problem !== null);
  for (const l of problems) out.push(`${l.namespace}/${l.pod}: ${l.problem}`);
  if (report.notInjected.length > 0) {
    out.push('', `Never injected: ${report.notInjected.length} pod(s) ask for secrets but have no ${ANNOTATIONS.status}: ${STATUS_INJECTED}`);
    out.push(table(['NAMESPACE', 'POD', 'SECRETS', 'WHY'], report.notInjected.map((l) => [l.namespace, l.pod, list(l.secrets), l.message])));
  }
  return `${out.join('\n')}\n`;
}

export function formatJson(report: StatusReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}
