/**
 * The init container's run: log in with the pod's projected token, record the token on the
 * state volume, fetch every secret in parallel, render them, write them all or none, record
 * the token and the leases for the sidecar. Vault, the clock and the projected token are
 * passed in; main.ts wires the real ones.
 *
 * If anything fails after the login, the Vault token is revoked before exiting, so the
 * database users already created for this attempt die now instead of at their TTL. A run
 * killed before it can do so (OOM, SIGKILL, node crash) has recorded its token right after
 * the login; the next run in this pod (a pod sandbox restart re-runs init containers)
 * revokes it at once. The token of an earlier complete run is revoked once the new secrets
 * are in place. earlier-tokens.ts has the rule.
 */
import {
  CourierError,
  INJECTED_ENV,
  MANIFEST_FILE,
  MANIFEST_VERSION,
  VAULT_TOKEN_FILE,
  isCourierError,
  leaseIssuedAt,
  renderSecret,
  serializeManifest,
  type InitConfig,
  type LeaseManifest,
  type Logger,
  type SecretSpec,
} from '@vault-courier/core';
import { stageFiles, type StagedFiles } from './atomic-write.ts';
import { retry, type RetryDeps } from './backoff.ts';
import { planRevocations, type RevocationPlan } from './earlier-tokens.ts';
import { clearUndelivered, readEarlierTokens, recordUndelivered, STATE_FILE_MODE } from './state-files.ts';
import type { VaultApi } from './vault-client.ts';
import { classifyVaultFailure, VaultFailureError, type VaultOperation } from './vault-errors.ts';
import { parseLoginResponse, parseSecretResponse, type FetchedSecret, type LoginResult } from './vault-responses.ts';

export const SECRET_FILE_MODE = 0o440;

export interface DeliverDeps extends RetryDeps {
  readonly vault: VaultApi;
  /** Reads the projected service-account token (audience `vault`). */
  readonly readJwt: () => Promise<string>;
  readonly logger: Logger;
}

interface Run {
  readonly config: InitConfig;
  readonly deps: DeliverDeps;
  readonly deadlineMs: number;
}

/**
 * Calls Vault with retries; a failed call becomes the CourierError its operation implies.
 * `parse` gets the issue time of the attempt that answered: the clock is read before the
 * request is sent (leaseIssuedAt), so the sidecar's deadline can only err early.
 */
function vaultCall<T>(run: Run, op: VaultOperation, request: () => Promise<unknown>, parse: (body: unknown, at: number) => T, signal: AbortSignal): Promise<T> {
  const { deps, config } = run;
  const attempt = async (): Promise<T> => {
    let body: unknown;
    const sentAtMs = deps.now();
    try {
      body = await request();
    } catch (err) {
      if (err instanceof VaultFailureError) throw classifyVaultFailure(err.failure, op, config.vaultAddr);
      throw err;
    }
    return parse(body, leaseIssuedAt(sentAtMs, deps.now()));
  };
  return retry(attempt, {
    deadlineMs: run.deadlineMs,
    deadlineSetting: INJECTED_ENV.initDeadlineSeconds,
    signal,
    // Expected while Vault starts or unseals: the reason in one field, not a stack per try.
    onRetry: (err, n, delayMs) => deps.logger.warn({ reason: err.message, attempt: n, retryInMs: delayMs }, 'Vault not ready; retrying'),
  }, deps);
}

async function readJwt(run: Run): Promise<string> {
  let jwt: string;
  try {
    jwt = (await run.deps.readJwt()).trim();
  } catch (cause) {
    const code = (cause as { code?: unknown }).code;
    throw new CourierError('config', `${INJECTED_ENV.vaultJwtPath}: cannot read the service-account token at ${run.config.vaultJwtPath} (${String(code ?? cause)}); the pod needs the projected token volume with audience "vault"`);
  }
  if (jwt === '') throw new CourierError('config', `${INJECTED_ENV.vaultJwtPath}: ${run.config.vaultJwtPath} is empty`);
  return jwt;
}

async function login(run: Run, signal: AbortSignal): Promise<LoginResult> {
  const jwt = await readJwt(run);
  const { authPath, role } = run.config;
  return vaultCall(run, { kind: 'login', authPath, role }, () => run.deps.vault.login(authPath, role, jwt), parseLoginResponse, signal);
}

/**
 * Fetches every secret at once. The first secret that fails for good stops the others'
 * retries; all requests settle before returning, so no credential is issued after the
 * caller revokes the token.
 */
async function fetchAll(run: Run, token: string, parent: AbortSignal): Promise<FetchedSecret[]> {
  const stop = new AbortController();
  const signal = AbortSignal.any([parent, stop.signal]);
  let firstError: unknown;
  const fetchOne = (spec: SecretSpec): Promise<FetchedSecret> =>
    vaultCall(run, { kind: 'read', name: spec.name, path: spec.path }, () => run.deps.vault.read(spec.path, token), (body, at) => parseSecretResponse(spec, body, at), signal).catch((err: unknown) => {
      firstError ??= err;
      stop.abort(err);
      throw err;
    });
  const results = await Promise.allSettled(run.config.secrets.map(fetchOne));
  if (firstError !== undefined) throw firstError;
  parent.throwIfAborted();
  return results.map((r) => (r as PromiseFulfilledResult<FetchedSecret>).value);
}

function manifestOf(loginResult: LoginResult, fetched: readonly FetchedSecret[]): LeaseManifest {
  return { version: MANIFEST_VERSION, token: loginResult.lease, secrets: fetched.map((f) => f.lease) };
}

/** Secrets first, then token and manifest; if the second commit fails, the first is undone. */
async function writeAll(run: Run, loginResult: LoginResult, fetched: readonly FetchedSecret[]): Promise<void> {
  const { config } = run;
  const secretFiles = fetched.map((f) => ({ name: f.spec.name, content: renderSecret(f.spec, f.data) }));
  const stateFiles = [
    { name: VAULT_TOKEN_FILE, content: loginResult.token },
    { name: MANIFEST_FILE, content: serializeManifest(manifestOf(loginResult, fetched)) },
  ];
  const staged: StagedFiles[] = [];
  try {
    staged.push(await stageFiles(config.secretsDir, secretFiles, SECRET_FILE_MODE));
    staged.push(await stageFiles(config.stateDir, stateFiles, STATE_FILE_MODE));
    const [secrets, state] = staged as [StagedFiles, StagedFiles];
    await secrets.commit();
    try {
      await state.commit();
    } catch (err) {
      await secrets.rollback();
      throw err;
    }
  } finally {
    await Promise.all(staged.map((s) => s.discard()));
  }
}

/** Best effort: a token Vault cannot revoke now still expires with its TTL. Resolves with whether it was revoked. */
async function revokeQuietly(run: Run, token: string, whose: string): Promise<boolean> {
  try {
    await run.deps.vault.revokeSelf(token);
    run.deps.logger.info(`revoked the Vault token of ${whose}`);
    return true;
  } catch (err) {
    const failure = err instanceof VaultFailureError ? classifyVaultFailure(err.failure, { kind: 'revoke' }, run.config.vaultAddr) : err;
    run.deps.logger.warn({ err: failure }, `could not revoke the Vault token of ${whose}; its leases expire with their TTL`);
    return false;
  }
}

/**
 * Right after the login: this run's token goes on the state volume before any secret is
 * fetched, then the tokens of interrupted earlier runs are revoked.
 */
async function recordAndRevokeEarlier(run: Run, plan: RevocationPlan): Promise<void> {
  await recordUndelivered(run.config.stateDir, plan.undeliveredAfterLogin);
  await Promise.all(plan.now.map((t) => revokeQuietly(run, t, 'an interrupted earlier run in this pod')));
}

/** A record left in place is harmless: the next run revokes what it lists, or reads it as delivered (planRevocations). */
async function clearQuietly(run: Run): Promise<void> {
  await clearUndelivered(run.config.stateDir).catch((err: unknown) => run.deps.logger.warn({ err }, 'could not clear the record of undelivered Vault tokens; the next run reads it again'));
}

/** A failed attempt: its token revoked, and unrecorded only then, so a token Vault would not revoke now is tried again by the next run. */
async function abandon(run: Run, token: string): Promise<void> {
  if (await revokeQuietly(run, token, 'this failed attempt')) await clearQuietly(run);
}

/** Runs the whole delivery; resolves with the manifest written, or throws a CourierError. */
export async function deliver(config: InitConfig, deps: DeliverDeps, signal: AbortSignal): Promise<LeaseManifest> {
  const started = deps.now();
  const run: Run = { config, deps, deadlineMs: started + config.deadlineSeconds * 1000 };
  const earlier = await readEarlierTokens(config.stateDir);
  const loginResult = await login(run, signal);
  deps.logger.info({ authPath: config.authPath, role: config.role, tokenTtlSeconds: loginResult.lease.ttlSeconds, renewable: loginResult.lease.renewable }, 'logged in to Vault');
  const plan = planRevocations(earlier, loginResult.token);
  let fetched: FetchedSecret[];
  try {
    await recordAndRevokeEarlier(run, plan);
    fetched = await fetchAll(run, loginResult.token, signal);
    await writeAll(run, loginResult, fetched);
  } catch (err) {
    await abandon(run, loginResult.token);
    throw err;
  }
  // Delivered: the token is now in VAULT_TOKEN_FILE. A kill before this line leaves it
  // listed as undelivered too, which planRevocations reads as delivered.
  await clearQuietly(run);
  if (plan.afterDelivery !== undefined) await revokeQuietly(run, plan.afterDelivery, 'an earlier run in this pod');
  for (const f of fetched) {
    deps.logger.info({ secretName: f.spec.name, path: f.spec.path, format: f.spec.format.kind, leaseDurationSeconds: f.lease.leaseDurationSeconds, renewable: f.lease.renewable }, 'secret delivered');
  }
  deps.logger.info({ count: fetched.length, elapsedMs: deps.now() - started }, 'all secrets delivered');
  return manifestOf(loginResult, fetched);
}

/** The one-line reason a failed run exits with. */
export function failureReason(err: unknown): string {
  if (isCourierError(err)) return err.message;
  if (err instanceof Error && err.name === 'AbortError') return 'stopped before the secrets were delivered (SIGTERM)';
  return `unexpected failure: ${err instanceof Error ? err.message : String(err)}`;
}
