/**
 * Sends eviction-endpoint cases (eviction-cases.ts) to a running webhook over HTTPS, a few
 * at a time on kept-alive connections, and collects every answer that is not a v1 Status
 * the case allows. test/integration/evict.test.ts runs it against the real API server's keys.
 */
import { Agent } from 'node:https';
import { EVICTION_ANSWERS } from '@vault-courier/core';
import { nextEvictionCase, statusProblem, type TokenKit } from './eviction-cases.ts';
import type { Random } from './random.ts';
import { postCase } from './post.ts';

const IN_FLIGHT = 8;
const ANSWER_TIMEOUT_MS = 10_000;

export interface FuzzRun {
  readonly problems: string[];
  /** `<reason> <status>` -> count. */
  readonly answers: Map<string, number>;
}

export async function fuzzEvictionEndpoints(options: { url: string; ca: string; kit: TokenKit; rng: Random; count: number; run?: FuzzRun }): Promise<FuzzRun> {
  const run: FuzzRun = options.run ?? { problems: [], answers: new Map<string, number>() };
  const agent = new Agent({ keepAlive: true, maxSockets: IN_FLIGHT, ca: options.ca });
  let sent = 0;
  const worker = async () => {
    while (sent < options.count) {
      const index = sent++;
      const c = await nextEvictionCase(options.rng, options.kit, Math.floor(Date.now() / 1000));
      let problem: string | undefined;
      try {
        const answer = await postCase(options.url, agent, c, ANSWER_TIMEOUT_MS);
        const reason = /"reason":"([A-Za-z]+)"/.exec(answer.text)?.[1] ?? '?';
        run.answers.set(`${reason} ${answer.status}`, (run.answers.get(`${reason} ${answer.status}`) ?? 0) + 1);
        problem = statusProblem(c, answer.status, answer.text, EVICTION_ANSWERS as Readonly<Record<string, { code: number }>>);
      } catch (err) {
        problem = `no answer: ${(err as Error).message}`;
      }
      if (problem !== undefined && run.problems.length < 20) run.problems.push(`case ${index} (${c.kind}): ${problem}`);
    }
  };
  try {
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  } finally {
    agent.destroy();
  }
  return run;
}
