/** The API's Events as the demo's timeline tells them: Warnings about the demo's own objects. */
import type { CoreV1Event } from '@kubernetes/client-node';
import type { DemoEvent } from '@vault-courier/demo-app/timeline';

/** A Warning whose object is named `<workload>` or `<workload>-…` (its ReplicaSets and pods); the rest is not the demo's story. */
export function warningFromEvent(event: CoreV1Event, workload: string): DemoEvent | undefined {
  const object = event.involvedObject;
  const name = object.name ?? '';
  if (event.type !== 'Warning' || (name !== workload && !name.startsWith(`${workload}-`))) return undefined;
  return {
    kind: 'warning',
    key: event.metadata.uid ?? `${name}/${event.reason ?? ''}`,
    object: `${(object.kind ?? 'object').toLowerCase()}/${name}`,
    reason: event.reason ?? 'Unknown',
    message: (event.message ?? '').trim(),
  };
}
