/** One fuzz case POSTed over the fuzzers' own HTTPS agent, bounded in time: the status and text that came back. */
import { request, type Agent } from 'node:https';

export interface PostedCase {
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

export interface Answer {
  readonly status: number;
  readonly text: string;
}

export function postCase(url: string, agent: Agent, c: PostedCase, timeoutMs: number): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${c.path}`, { method: 'POST', agent, headers: { ...c.headers, 'content-length': String(c.body.length) }, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(c.body);
  });
}
