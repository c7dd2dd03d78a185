/**
 * The fuzzers' only source of randomness: mulberry32 (test/helpers/mulberry32.ts), seeded
 * from VAULT_COURIER_FUZZ_SEED or the clock. The seed is printed before any case runs, so
 * a failing run reproduces with `VAULT_COURIER_FUZZ_SEED=<seed> node --test test/fuzz/…`.
 */
import { mulberry32 } from '../helpers/mulberry32.ts';

export const SEED_ENV = 'VAULT_COURIER_FUZZ_SEED';

export interface Random {
  readonly seed: number;
  /** [0, 1) */
  next(): number;
  /** An integer in [0, n). */
  int(n: number): number;
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
  /** A string of `length` characters drawn from `alphabet`. */
  text(length: number, alphabet?: string): string;
}

export function createRandom(seed: number): Random {
  const next = mulberry32(seed);
  const int = (n: number) => Math.floor(next() * n);
  return {
    seed,
    next,
    int,
    chance: (p) => next() < p,
    pick: <T>(items: readonly T[]): T => items[int(items.length)] as T,
    text: (length, alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789-') => Array.from({ length }, () => alphabet[int(alphabet.length)]).join(''),
  };
}

/** The seed from the environment (decimal), else a fresh one; throws on a malformed value. */
export function fuzzSeed(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[SEED_ENV];
  if (raw === undefined || raw === '') return Math.floor(Math.random() * 2 ** 32);
  if (!/^\d+$/.test(raw) || Number(raw) >= 2 ** 32) throw new Error(`${SEED_ENV}="${raw}": expected a decimal integer below 2^32`);
  return Number(raw);
}

/** Logs the seed on stderr (node --test shows it with the failure) and returns the generator. */
export function seededRandom(what: string): Random {
  const seed = fuzzSeed();
  console.error(`${what}: ${SEED_ENV}=${seed}`);
  return createRandom(seed);
}
