/**
 * What the kubelet changes on the machine, saved before it starts and put back once it is
 * up: it sets these at every start and never reads them again. Saved into the cluster's
 * directory, so a cluster that was killed before it could restore them is restored by
 * the next start's clean-up.
 */
import { readFileSync, writeFileSync } from 'node:fs';

export const KUBELET_SYSCTLS = ['kernel/panic', 'kernel/panic_on_oops', 'vm/overcommit_memory'] as const;

export type SysctlValues = Readonly<Record<string, string>>;

export function readSysctls(keys: readonly string[] = KUBELET_SYSCTLS): SysctlValues {
  return Object.fromEntries(keys.map((key) => [key, readFileSync(`/proc/sys/${key}`, 'utf8').trim()]));
}

/** Writes back every value that differs; returns the keys it changed. */
export function restoreSysctls(saved: SysctlValues): string[] {
  const changed: string[] = [];
  for (const [key, value] of Object.entries(saved)) {
    if (readFileSync(`/proc/sys/${key}`, 'utf8').trim() === value) continue;
    writeFileSync(`/proc/sys/${key}`, value);
    changed.push(key);
  }
  return changed;
}
