/**
 * One validator per value that crosses from the webhook to the containers it injects.
 * The webhook's parser (config.ts), the annotation parser, the init
 * container's (init-config.ts) and the sidecar's (packages/sidecar/src/config.ts) all call
 * these, so the webhook refuses at start exactly what an injected container would refuse
 * later, in every pod. Pure; each returns the problem (without the variable or annotation
 * name, which the caller adds) or undefined, and never quotes a secret value.
 */
import { isLogLevel, LOG_LEVELS } from '../support/logger.ts';
import { STATE_MOUNT_PATH, TOKEN_MOUNT_PATH } from './names.ts';

export const DEFAULT_AUTH_PATH = 'auth/kubernetes';
export const VAULT_ADDR_EXAMPLE = 'https://vault.vault.svc:8200';
export const SERVICE_URL_EXAMPLE = 'https://vault-courier.vault-courier.svc:443';
const MOUNT_PATH_EXAMPLE = '/vault/secrets';

function parseUrl(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}

/** What an address must not carry: paths are appended to it (`${addr}/v1/...`, `${url}/evict`). */
function urlExtras(url: URL, example: string): string | undefined {
  if (url.username !== '' || url.password !== '') return `must not carry a user or password; write the address alone, e.g. ${example}`;
  if (url.search !== '' || url.hash !== '' || /[?#]/.test(url.href)) return `must not carry a query ("?…") or a fragment ("#…"): paths are appended to it; write the address alone, e.g. ${example}`;
  return undefined;
}

/** Vault's address: an http(s) URL without credentials, query or fragment. */
export function checkVaultAddr(text: string): string | undefined {
  const url = parseUrl(text);
  if (url === undefined || !/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) return `${JSON.stringify(text)} is not a URL; expected e.g. ${VAULT_ADDR_EXAMPLE}`;
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return `${JSON.stringify(text)} must be an http:// or https:// URL, got ${url.protocol}; e.g. ${VAULT_ADDR_EXAMPLE}`;
  return urlExtras(url, VAULT_ADDR_EXAMPLE);
}

/** How sidecars reach the webhook for POST /evict: an https URL without credentials, query or fragment. */
export function checkServiceUrl(text: string): string | undefined {
  const url = parseUrl(text);
  if (url === undefined || url.protocol !== 'https:' || !text.toLowerCase().startsWith('https://')) return `${JSON.stringify(text)} is not an https:// URL (the sidecar presents a token to it); expected e.g. ${SERVICE_URL_EXAMPLE}`;
  return urlExtras(url, SERVICE_URL_EXAMPLE);
}

/** One canonical form for URLs that paths are appended to: no trailing slash. */
export function withoutTrailingSlash(text: string): string {
  return text.replace(/\/+$/, '');
}

const AUTH_PATH = /^auth\/[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/;

/** The kubernetes auth method's mount, e.g. `auth/kubernetes`: written as Vault's API sees it. */
export function checkAuthPath(text: string): string | undefined {
  if (text.startsWith('/') || text.endsWith('/')) return `${JSON.stringify(text)} must not start or end with "/"; e.g. "${DEFAULT_AUTH_PATH}"`;
  const segments = text.split('/');
  if (!AUTH_PATH.test(text) || segments.some((s) => s === '.' || s === '..')) {
    const hint = !text.startsWith('auth/') && /^[A-Za-z0-9_.-]+$/.test(text) && text !== '.' && text !== '..' ? ` (did you mean "auth/${text}"?)` : '';
    return `${JSON.stringify(text)} is not an auth mount path: it starts with "auth/" and has only letters, digits, "_", "." and "-" between slashes; e.g. "${DEFAULT_AUTH_PATH}"${hint}`;
  }
  return undefined;
}

const ROLE = /^[A-Za-z0-9][A-Za-z0-9_.@-]*$/;

/** A Vault role name of the kubernetes auth method. */
export function checkRole(text: string): string | undefined {
  return ROLE.test(text) ? undefined : `${JSON.stringify(text)} is not a Vault role name (letters, digits, "_", ".", "@" and "-", starting with a letter or digit)`;
}

const VAULT_NAMESPACE = /^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*\/?$/;
export const VAULT_NAMESPACE_EXAMPLE = 'team-a';

/**
 * A Vault Enterprise or OpenBao namespace, sent as X-Vault-Namespace: `team-a`, or nested
 * `org/team-a`; the trailing "/" Vault prints (`team-a/`) is accepted.
 */
export function checkVaultNamespace(text: string): string | undefined {
  const segments = text.replace(/\/$/, '').split('/');
  if (VAULT_NAMESPACE.test(text) && !segments.some((s) => s === '.' || s === '..')) return undefined;
  return `${JSON.stringify(text)} is not a Vault namespace path: names of letters, digits, "_", "." and "-", separated by "/" and not starting with one, e.g. "${VAULT_NAMESPACE_EXAMPLE}" or "org/${VAULT_NAMESPACE_EXAMPLE}"`;
}

/** The Vault path of a secret, as Vault's API sees it (`secret/data/app`, `database/creds/app`). */
export function checkVaultPath(text: string): string | undefined {
  if (text.trim() === '') return 'is empty; set it to the Vault path to read, e.g. "secret/data/app" or "database/creds/app"';
  if (/\s/.test(text)) return 'contains whitespace; a Vault path has none (e.g. "secret/data/app")';
  if (/[?#]/.test(text)) {
    return `contains "${/[?]/.test(text) ? '?' : '#'}": a Vault path carries no query string or fragment, and vault-courier reads a KV secret's latest version; write the plain path, e.g. "secret/data/app"`;
  }
  if (text.startsWith('/') || text.endsWith('/')) return 'must not start or end with "/"; write it as "secret/data/app"';
  if (text.split('/').some((segment) => segment === '' || segment === '.' || segment === '..')) return 'has an empty, "." or ".." segment; write the plain Vault path, e.g. "secret/data/app"';
  return undefined;
}

/** An absolute, normalized file path (the injected state directory, the token files). */
export function checkAbsolutePath(text: string): string | undefined {
  if (!text.startsWith('/')) return `must be an absolute path (starting with "/"); got ${JSON.stringify(text)}`;
  if (text !== '/' && (text.endsWith('/') || text.split('/').slice(1).some((s) => s === '' || s === '.' || s === '..'))) {
    return `must be a normalized path (no trailing "/", no "//", "." or ".." segments); got ${JSON.stringify(text)}`;
  }
  return undefined;
}

/** The directory the secret files appear in: absolute, normalized, below "/", apart from vault-courier's own mounts. */
export function checkMountPath(text: string): string | undefined {
  if (!text.startsWith('/')) return `must be an absolute path (starting with "/"), e.g. "${MOUNT_PATH_EXAMPLE}"; got "${text}"`;
  if (text === '/' || text.endsWith('/')) return `must name a directory below "/" without a trailing "/", e.g. "${MOUNT_PATH_EXAMPLE}"`;
  if (text.split('/').slice(1).some((segment) => segment === '' || segment === '.' || segment === '..')) return `must be a normalized path (no "//", "." or ".." segments), e.g. "${MOUNT_PATH_EXAMPLE}"`;
  const reserved = [STATE_MOUNT_PATH, TOKEN_MOUNT_PATH].find((r) => text === r || r.startsWith(`${text}/`) || text.startsWith(`${r}/`));
  if (reserved !== undefined) return `"${text}" overlaps ${reserved}, which vault-courier uses itself; choose another directory, e.g. "${MOUNT_PATH_EXAMPLE}"`;
  return undefined;
}

// The reference grammar of github.com/distribution/reference: [domain[:port]/]path[:tag][@digest].
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[0-9a-fA-F:]+\\])(?::[0-9]+)?`;
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const IMAGE = new RegExp(`^(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*(?::[\\w][\\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$`);

/** An image reference the kubelet can pull (otherwise every injected pod sits in InvalidImageName). */
export function checkImage(text: string): string | undefined {
  if (text.length <= 255 + 128 + 80 && IMAGE.test(text)) return undefined;
  return `${JSON.stringify(text)} is not an image reference: [registry[:port]/]repository[:tag][@sha256:digest], repository in lowercase, e.g. "ghcr.io/vault-courier/init:0.1.0"`;
}

/** PEM text of a CA bundle: at least one certificate block. */
export function checkCaPem(text: string): string | undefined {
  return /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.test(text) ? undefined : 'must be PEM text with at least one -----BEGIN CERTIFICATE----- … -----END CERTIFICATE----- block';
}

export function checkLogLevel(text: string): string | undefined {
  return isLogLevel(text) ? undefined : `"${text}" is not one of ${LOG_LEVELS.join(', ')}`;
}

const QUANTITY = /^(\+?[0-9]+(?:\.[0-9]*)?|\+?\.[0-9]+)(?:(Ki|Mi|Gi|Ti|Pi|Ei)|(n|u|m|k|M|G|T|P|E)|[eE]([+-]?[0-9]+))?$/;
const BINARY: Readonly<Record<string, number>> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL: Readonly<Record<string, number>> = { n: 1e-9, u: 1e-6, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };

/** A Kubernetes quantity's value (`100m` → 0.1, `64Mi` → 67108864); undefined if it is not one. */
export function quantityValue(text: string): number | undefined {
  const match = QUANTITY.exec(text);
  if (match === null) return undefined;
  const [, number = '', binary, decimal, exponent] = match;
  const scale = binary !== undefined ? BINARY[binary] : decimal !== undefined ? DECIMAL[decimal] : exponent !== undefined ? 10 ** Number(exponent) : 1;
  return Number(number) * (scale ?? 1);
}

const RESOURCE_NAMES: readonly string[] = ['cpu', 'memory', 'ephemeral-storage'];
export const RESOURCES_EXAMPLE = '{"requests":{"cpu":"10m","memory":"64Mi"},"limits":{"memory":"128Mi"}}';

function sectionProblem(section: string, quantities: unknown): string | undefined {
  if (section !== 'requests' && section !== 'limits') return `has "${section}"; only "requests" and "limits" are allowed, e.g. ${RESOURCES_EXAMPLE}`;
  if (typeof quantities !== 'object' || quantities === null || Array.isArray(quantities)) return `"${section}" must be an object of quantities, e.g. ${RESOURCES_EXAMPLE}`;
  for (const [resource, q] of Object.entries(quantities)) {
    if (!RESOURCE_NAMES.includes(resource)) return `${section}.${resource}: only ${RESOURCE_NAMES.join(', ')} can be set, e.g. ${RESOURCES_EXAMPLE}`;
    if (typeof q !== 'string' || quantityValue(q) === undefined) return `${section}.${resource}: ${JSON.stringify(q)} is not a Kubernetes quantity (a string such as "100m", "0.5" or "64Mi")`;
  }
  return undefined;
}

/** Container resources as Kubernetes writes them (`{ cpu: '10m', memory: '64Mi' }`). */
export interface Resources {
  readonly requests?: Readonly<Record<string, string>>;
  readonly limits?: Readonly<Record<string, string>>;
}

/** JSON `{"requests":{…},"limits":{…}}`; what the API server would refuse in every injected pod is refused here. */
export function parseResources(text: string): { readonly resources: Resources } | { readonly problem: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { problem: `must be JSON like ${RESOURCES_EXAMPLE}; got ${JSON.stringify(text)}` };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { problem: `must be a JSON object like ${RESOURCES_EXAMPLE}; got ${JSON.stringify(text)}` };
  for (const [section, quantities] of Object.entries(parsed)) {
    const problem = sectionProblem(section, quantities);
    if (problem !== undefined) return { problem };
  }
  const resources = parsed as Resources;
  const problem = requestOverLimit(resources);
  return problem === undefined ? { resources: Object.freeze(resources) } : { problem };
}

function requestOverLimit(resources: Resources): string | undefined {
  for (const [resource, limit] of Object.entries(resources.limits ?? {})) {
    const request = resources.requests?.[resource];
    if (request !== undefined && (quantityValue(request) ?? 0) > (quantityValue(limit) ?? 0)) {
      return `requests.${resource} ${request} is more than limits.${resource} ${limit}; the API server would refuse every injected pod: lower the request or raise the limit`;
    }
  }
  return undefined;
}
