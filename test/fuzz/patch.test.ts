/**
 * The review's JSON patch over the golden AdmissionReviews and 10,000 seeded variations of
 * them (admission-cases.ts, the generator admission.test.ts sends over HTTPS), in-process:
 * the patch applies with fast-json-patch's validation to the pod as the API server sent
 * it and gives exactly the mutated pod; it is the patch the diff of two full deep copies
 * gives (mutate.ts shares unchanged subtrees with the pod sent, and patch.ts's diff skips
 * them by identity: neither may change what the API server receives); and the pod sent is
 * left as it was. Reproduce a failure with the seed printed on stderr.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import jsonpatch from 'fast-json-patch';
import type { V1Pod } from '@kubernetes/client-node';
import { MAX_POD_DEPTH, mountIntoLateContainers, mutatePod, nestingDepth, shouldInject, type Operation } from '@vault-courier/core';
import { FIXTURE_CONFIG } from '../helpers/fixture-config.ts';
import { parseAdmissionReview, reviewAdmission, type AdmissionRequest } from '../../packages/webhook/src/review.ts';
import { loadReviews, nextCase } from './admission-cases.ts';
import { seededRandom } from './random.ts';

const CASES = 10_000;


/** The requests among the cases that reach the review: JSON, an AdmissionReview, for /mutate. */
function* requests(): Generator<{ kind: string; request: AdmissionRequest }> {
  const bases = loadReviews();
  for (const base of bases) {
    const parsed = parseAdmissionReview(base);
    assert.ok(parsed.ok, 'every golden review parses');
    yield { kind: 'golden', request: parsed.request };
  }
  const rng = seededRandom('patch.test.ts');
  for (let i = 0; i < CASES; i++) {
    const c = nextCase(rng, bases);
    if (c.path !== '/mutate') continue;
    let body: unknown;
    try {
      body = JSON.parse(c.body.toString('utf8'));
    } catch {
      continue;
    }
    const parsed = parseAdmissionReview(body);
    // Refused before any mutation (pod-shape.ts), and too deep for this test's own copies.
    if (parsed.ok && nestingDepth(parsed.request.object) > MAX_POD_DEPTH) continue;
    if (parsed.ok) yield { kind: c.kind, request: parsed.request };
  }
}

test('the patch applies to the pod sent, gives the mutated pod, equals the full diff, and leaves the pod sent alone', () => {
  let patched = 0;
  for (const { kind, request } of requests()) {
    const sent = structuredClone(request.object);
    const { response } = reviewAdmission(request, FIXTURE_CONFIG).review;
    assert.deepEqual(request.object, sent, `${kind}: the review modified the pod sent`);
    if (response.patch === undefined) continue;
    patched++;
    const pod = request.object as V1Pod;
    const decision = shouldInject(pod, FIXTURE_CONFIG);
    const mutated = decision.inject ? mutatePod(pod, decision.spec, FIXTURE_CONFIG) : mountIntoLateContainers(pod, FIXTURE_CONFIG);
    assert.ok(mutated !== undefined, `${kind}: a patch without a mutation`);
    const patch = JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8')) as Operation[];
    const applied = jsonpatch.applyPatch(structuredClone(pod), structuredClone(patch), true, false).newDocument;
    assert.deepEqual(applied, mutated, `${kind}: the patch does not give the mutated pod`);
    assert.deepEqual(patch, jsonpatch.compare(structuredClone(pod), structuredClone(mutated)), `${kind}: not the patch of the full diff`);
  }
  // About one case in nine is patched (1,122 of 10,000 measured); far fewer means the generator no longer reaches the mutation.
  assert.ok(patched > CASES / 20, `only ${patched} of ${CASES} cases were patched`);
});
