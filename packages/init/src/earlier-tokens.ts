/**
 * Which Vault tokens earlier runs of init in this pod left behind, and when to revoke each.
 * Pure. init runs again in the same pod when the pod's sandbox is recreated; every token
 * an earlier run logged in with holds database users and other dynamic leases that die only
 * when it is revoked or reaches its TTL, so no run may leave one that the next cannot find.
 *
 * Two kinds are on the state volume:
 * - the delivered token (core's VAULT_TOKEN_FILE, the one the sidecar renews): the secrets
 *   in place hang from it, so it is revoked only once new secrets replace them;
 * - undelivered tokens (UNDELIVERED_TOKENS_FILE, init's own): recorded right after each
 *   login, so a run killed between login and delivery (OOM, node crash, SIGKILL) leaves its
 *   token where the next run finds it. No delivered secret hangs from them: revoked at once.
 */

export interface EarlierTokens {
  /** The token of the secrets delivered last, if any. */
  readonly delivered: string | undefined;
  /** Tokens of runs that logged in and stopped before delivering. */
  readonly undelivered: readonly string[];
}

export interface RevocationPlan {
  /** Revoke right after this run's token is recorded: nothing depends on them. */
  readonly now: readonly string[];
  /** Revoke once this run's secrets are in place: the secrets there now hang from it. */
  readonly afterDelivery: string | undefined;
  /** The undelivered list to record right after login: this run's token, and the ones it is about to revoke (a kill before they are revoked must not lose them). */
  readonly undeliveredAfterLogin: readonly string[];
}

export function planRevocations(earlier: EarlierTokens, current: string): RevocationPlan {
  const delivered = earlier.delivered === current ? undefined : earlier.delivered;
  // A run killed after its final commit but before clearing its undelivered record lists
  // the delivered token there too: it is still the delivered one, revoked after delivery.
  const now = [...new Set(earlier.undelivered)].filter((t) => t !== earlier.delivered && t !== current);
  return { now, afterDelivery: delivered, undeliveredAfterLogin: [...now, current] };
}

/** One token a line; blank lines (an empty file, a trailing newline) are no tokens. */
export function parseTokenList(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
}

export function serializeTokenList(tokens: readonly string[]): string {
  return tokens.map((t) => `${t}\n`).join('');
}
