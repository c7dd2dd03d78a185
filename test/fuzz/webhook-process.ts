/**
 * The webhook as its own process for the admission fuzzer: startWebhook with the real TLS
 * pair the parent made, its log lines counted and dropped (error lines kept, a few). Run with --expose-gc, it answers
 * `{ type: 'memory' }` on its IPC channel with process.memoryUsage() after a full
 * collection, so the parent measures the webhook's memory and not its own; `{ type: 'stop' }`
 * closes the server and exits. An exit before that is a crash, and the parent sees it.
 */
import { Writable } from 'node:stream';
import { createLogger } from '@vault-courier/core';
import { startWebhook } from '@vault-courier/webhook/server';
import { testWebhookConfig } from '../helpers/webhook-tls.ts';

const [certPath, keyPath, caCertPath] = process.argv.slice(2);
if (certPath === undefined || keyPath === undefined || caCertPath === undefined) throw new Error('usage: webhook-process.ts <cert> <key> <ca>');
const collect = (globalThis as { gc?: () => void }).gc;
if (collect === undefined) throw new Error('webhook-process.ts needs --expose-gc');

let logLines = 0;
/** Error lines, up to ten: a review that threw inside the webhook (its handler answers anyway). */
const errorLines: string[] = [];
const count = (chunk: Buffer): void => {
  logLines++;
  if (errorLines.length < 10 && chunk.includes('"level":"error"')) errorLines.push(chunk.toString().slice(0, 600));
};
const logger = createLogger({ name: 'vault-courier-webhook', level: 'info', destination: new Writable({ write: (c: Buffer, _e, done) => (count(c), done()) }) });
const webhook = await startWebhook(testWebhookConfig({ certPath, keyPath, caCertPath }), logger, { drainTimeoutMs: 2_000 });
process.send?.({ type: 'listening', url: webhook.url });

process.on('message', (message: { type?: string }) => {
  if (message.type === 'memory') {
    collect();
    collect();
    process.send?.({ type: 'memory', memory: process.memoryUsage(), logLines, errorLines });
  } else if (message.type === 'stop') {
    void webhook.close().then(() => process.exit(0));
  }
});
