import { test } from 'node:test';
import assert from 'node:assert/strict';
import { blockedMessage, bodyProblem, budgetNames, evictionVerdict, podStanding, type PodFacts, type PodStanding } from './answers.ts';

const UID = '0b8d2f4e-1c3a-4e5f-8a9b-0c1d2e3f4a5b';
const injected: PodFacts = { uid: UID, annotations: { 'vault-courier.io/status': 'injected' }, containerNames: ['vault-courier-init', 'vault-courier-sidecar', 'app'] };

test('podStanding: gone, another uid, injected by annotation or by sidecar, not injected', () => {
  const rows: [string, PodFacts | undefined, PodStanding][] = [
    ['no pod', undefined, 'gone'],
    ['a namesake with another uid', { ...injected, uid: '1b8d2f4e-1c3a-4e5f-8a9b-0c1d2e3f4a5b' }, 'gone'],
    ['injected', injected, 'present'],
    ['annotation only', { ...injected, containerNames: ['app'] }, 'present'],
    ['sidecar only', { ...injected, annotations: {} }, 'present'],
    ['neither', { uid: UID, annotations: {}, containerNames: ['app'] }, 'not-injected'],
    ['a status annotation with another value', { uid: UID, annotations: { 'vault-courier.io/status': 'pending' }, containerNames: ['app'] }, 'not-injected'],
    ['a container that merely resembles ours', { uid: UID, annotations: {}, containerNames: ['vault-courier-sidecar-2'] }, 'not-injected'],
  ];
  for (const [what, found, standing] of rows) assert.equal(podStanding(found, UID), standing, what);
});

test("evictionVerdict: the API server's answer read with the pod as it is after it", () => {
  const rows: [string, number, PodStanding | undefined, string, number, number?][] = [
    ['accepted', 201, undefined, 'Evicted', 201],
    ['accepted (200)', 200, undefined, 'Evicted', 201],
    ['a PDB blocks (its DisruptionBudget cause)', 429, undefined, 'DisruptionBudget', 429, 1],
    ['a 429 without a budget cause: the API server shutting down or overloaded, a retry', 429, undefined, 'ClusterUnavailable', 503, 0],
    ['503 from the API server (starting, shutting down): a retry', 503, undefined, 'ClusterUnavailable', 503],
    ['504 from the API server: a retry', 504, undefined, 'ClusterUnavailable', 503],
    ['PDB-conflict 409, the pod still there: retry', 409, 'present', 'EvictionConflict', 409],
    ['409, the pod could not be read again: retry, never gone', 409, undefined, 'EvictionConflict', 409],
    ['uid precondition 409, a namesake now: gone', 409, 'gone', 'PodGone', 410],
    ['404, the pod gone', 404, 'gone', 'PodGone', 410],
    ['404 while the pod is there (a race): retry', 404, 'present', 'EvictionConflict', 409],
    ['409, the namesake is not injected', 409, 'not-injected', 'NotInjected', 403],
    ['RBAC refused', 403, undefined, 'EvictionRefused', 502],
    ['a 500 (more than one PDB)', 500, undefined, 'EvictionRefused', 502],
  ];
  for (const [what, status, after, reason, code, budgetCauses] of rows) assert.deepEqual(evictionVerdict(status, after, budgetCauses), { reason, code }, what);
});

test("budgetNames: the budget from the Eviction API's DisruptionBudget causes", () => {
  const rows: [string, string[], string[]][] = [
    ['needs healthy pods', ['The disruption budget keep-one needs 1 healthy pods and has 1 currently'], ['keep-one']],
    ['still being processed', ['The disruption budget web.pdb is still being processed by the server'], ['web.pdb']],
    ['two causes, one name twice', ['The disruption budget b needs 2 healthy pods and has 1 currently', 'The disruption budget a needs 1', 'The disruption budget b is still being processed by the server'], ['a', 'b']],
    ['no cause', [], []],
    ['a message without a name', ['something else'], []],
  ];
  for (const [what, causes, names] of rows) assert.deepEqual(budgetNames(causes), names, what);
  assert.equal(
    blockedMessage("Cannot evict pod as it would violate the pod's disruption budget.", ['The disruption budget keep-one needs 1 healthy pods and has 1 currently']),
    'Eviction for credential rotation blocked by PodDisruptionBudget keep-one: The disruption budget keep-one needs 1 healthy pods and has 1 currently. The sidecar retries with backoff.',
  );
  assert.match(blockedMessage("Cannot evict pod as it would violate the pod's disruption budget.", []), /blocked by a PodDisruptionBudget: Cannot evict pod/);
});

test('bodyProblem: what body-parser refused becomes a BadRequest message that never quotes the body', () => {
  const cases: [unknown, string | undefined][] = [
    [{ type: 'entity.too.large', status: 413 }, 'the request body is larger than 4kb'],
    [Object.assign(new SyntaxError('Unexpected token \'c\', "canary-body" is not valid JSON'), { type: 'entity.parse.failed', status: 400 }), 'the request body is not valid JSON (send a JSON object)'],
    [{ type: 'charset.unsupported', status: 415 }, 'the request body must be UTF-8 JSON without a Content-Encoding'],
    [{ type: 'encoding.unsupported', status: 415 }, 'the request body must be UTF-8 JSON without a Content-Encoding'],
    [{ type: 'request.aborted', status: 400 }, 'the request body could not be read'],
    [{ type: 'stream.encoding.set', status: 500 }, undefined],
    [new Error('a bug in a handler'), undefined],
    [undefined, undefined],
  ];
  for (const [err, expected] of cases) assert.equal(bodyProblem(err), expected, JSON.stringify(err));
});
