import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_POD_DEPTH, nestingDepth, podShapeProblem } from './pod-shape.ts';

const pod = (over: Record<string, unknown> = {}, spec: Record<string, unknown> = {}) => ({
  metadata: { name: 'web', annotations: { 'vault-courier.io/secret-db': 'database/creds/app' }, ...over },
  spec: { containers: [{ name: 'app', env: [{ name: 'A', value: '1' }], volumeMounts: [{ name: 'cfg', mountPath: '/cfg' }] }], ...spec },
});

function nested(depth: number): unknown {
  let value: unknown = 1;
  for (let i = 1; i < depth; i++) value = [value];
  return [value];
}

test('podShapeProblem: the fields the webhook reads, with the JSON type each must have, named in the problem', () => {
  const cases: [string, unknown, string | undefined][] = [
    ['a pod the API server sends', pod(), undefined],
    ['an empty object (nothing the webhook reads)', {}, undefined],
    ['a spec without containers (admission runs before validation)', { metadata: {}, spec: {} }, undefined],
    ['the pod a string', 'pod', 'request.object must be an object, got a string'],
    ['metadata an array', { metadata: [] }, 'request.object.metadata must be an object, got an array'],
    ['an annotation value a number', pod({ annotations: { 'vault-courier.io/secret-db': 7 } }), 'request.object.metadata.annotations["vault-courier.io/secret-db"] must be a string, got a number'],
    ['labels null', pod({ labels: null }), 'request.object.metadata.labels must be an object of strings, got null'],
    ['generateName a number', pod({ generateName: 1 }), 'request.object.metadata.generateName must be a string, got a number'],
    ['an owner reference null', pod({ ownerReferences: [null] }), 'request.object.metadata.ownerReferences[0] must be an object, got null'],
    ['controller a string', pod({ ownerReferences: [{ kind: 'ReplicaSet', controller: 'true' }] }), 'request.object.metadata.ownerReferences[0].controller must be a boolean, got a string'],
    ['containers a string', pod({}, { containers: 'app' }), 'request.object.spec.containers must be an array, got a string'],
    ['a container without a name', pod({}, { containers: [{ image: 'x' }] }), 'request.object.spec.containers[0].name is required'],
    ['an init container name a number', pod({}, { initContainers: [{ name: 3 }] }), 'request.object.spec.initContainers[0].name must be a string, got a number'],
    ['env an object', pod({}, { containers: [{ name: 'a', env: {} }] }), 'request.object.spec.containers[0].env must be an array, got an object'],
    ['a mount without mountPath', pod({}, { containers: [{ name: 'a', volumeMounts: [{ name: 'v' }] }] }), 'request.object.spec.containers[0].volumeMounts[0].mountPath is required'],
    ['a volume without a name', pod({}, { volumes: [{ emptyDir: {} }] }), 'request.object.spec.volumes[0].name is required'],
    ['fsGroup a string', pod({}, { securityContext: { fsGroup: '2000' } }), 'request.object.spec.securityContext.fsGroup must be a number, got a string'],
    ['grace period a boolean', pod({}, { terminationGracePeriodSeconds: true }), 'request.object.spec.terminationGracePeriodSeconds must be a number, got a boolean'],
    ['nested deeper than any pod', pod({}, { extra: nested(MAX_POD_DEPTH + 5) }), `request.object is nested deeper than ${MAX_POD_DEPTH} levels; no Pod is`],
  ];
  for (const [what, input, expected] of cases) assert.equal(podShapeProblem(input), expected, what);
});

test('nestingDepth counts without recursion, so 400,000 levels neither overflow the stack nor take long', () => {
  assert.equal(nestingDepth(1), 0);
  assert.equal(nestingDepth({ a: [1, { b: {} }] }), 4);
  assert.equal(nestingDepth(nested(50)), 50);
  assert.equal(nestingDepth(nested(400_000), 10), 11, 'stops one past the limit');
});
