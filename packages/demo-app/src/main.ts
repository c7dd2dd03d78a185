/**
 * The demo application: what an application team writes when vault-courier delivers its
 * database credentials. It reads a file, connects, says which database user it is, and
 * keeps using the connection. No Vault client, no file watching, no token: when the
 * credentials near expiry the pod is replaced and the new one starts with new ones.
 */
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import { createLogger } from '@vault-courier/core';
import { parseCredentials, parseDemoConfig } from './config.ts';

const log = createLogger({ name: 'demo-app' });

async function main(): Promise<void> {
  const config = parseDemoConfig(process.env);
  const credentials = parseCredentials(await readFile(config.credentialsFile, 'utf8'), config.credentialsFile);
  const client = new pg.Client({ host: config.host, port: config.port, database: config.database, user: credentials.username, password: credentials.password });
  let stopping = false;
  client.on('error', (err) => {
    if (stopping) return;
    log.error({ err }, 'database connection lost');
    process.exit(1);
  });
  await client.connect();
  const who = await client.query<{ user: string }>('SELECT current_user AS user');
  const user = who.rows[0]?.user ?? '';
  log.info({ user, database: config.database, credentialsFile: config.credentialsFile }, 'connected to the database');

  const timer = setInterval(() => {
    client.query<{ user: string }>('SELECT current_user AS user').then(
      (r) => log.info({ user: r.rows[0]?.user }, 'query ok'),
      (err: unknown) => {
        log.error({ err, user }, 'query failed');
        process.exit(1);
      },
    );
  }, config.queryIntervalMs);

  process.once('SIGTERM', () => {
    stopping = true;
    clearInterval(timer);
    log.info({ user }, 'SIGTERM: closing the database connection');
    client.end().then(
      () => process.exit(0),
      () => process.exit(0),
    );
  });
}

main().catch((err: unknown) => {
  log.error({ err }, 'demo-app failed to start');
  process.exit(1);
});
