#!/usr/bin/env bash
# The reference webhook of bench/webhook: HashiCorp's vault-k8s injector, built once into
# ~/.cache/vault-courier/vault-k8s-<version>/vault-k8s and reused. With internet:
# `go install github.com/hashicorp/vault-k8s@<version>`; where the module proxy refuses that
# module, from a source archive vault-k8s-<version>.tar.gz (its dependencies still come from
# the module proxy) in $VAULT_COURIER_ANCHORS, else ../shared/anchors beside the repository,
# else /work/shared/anchors. Prints the binary's path on stdout, progress on stderr; exits 3
# (and says how to get it) when neither way works, so the bench can skip that side.
set -euo pipefail

version=${VAULT_K8S_VERSION:-v1.7.6}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
cache=${VAULT_COURIER_CACHE:-$HOME/.cache/vault-courier}
dest="$cache/vault-k8s-$version"
say() { echo "vault-k8s: $*" >&2; }

if [ -x "$dest/vault-k8s" ]; then echo "$dest/vault-k8s"; exit 0; fi
if ! command -v go >/dev/null; then
  say "no Go toolchain on PATH: install Go >= 1.26 (or put a vault-k8s $version binary at $dest/vault-k8s)"
  exit 3
fi

# shellcheck source=../../scripts/heartbeat.sh
source "$root/scripts/heartbeat.sh"
export CGO_ENABLED=0 GOTOOLCHAIN=local
ldflags="-s -w -X github.com/hashicorp/vault-k8s/version.Version=$version"
tmp="$dest.partial"
rm -rf "$tmp" && mkdir -p "$tmp"
start=$SECONDS

say "go install github.com/hashicorp/vault-k8s@$version ..."
heartbeat vault-k8s "vault-k8s $version" >&2 & beat=$!
if GOBIN="$tmp" GOFLAGS=-mod=mod go install -trimpath -ldflags "$ldflags" "github.com/hashicorp/vault-k8s@$version" 2>"$tmp/go-install.log"; then
  kill "$beat"; wait "$beat" 2>/dev/null || true
else
  kill "$beat"; wait "$beat" 2>/dev/null || true
  say "go install failed ($(tail -1 "$tmp/go-install.log")); looking for a source archive"
  archive=""
  for dir in "${VAULT_COURIER_ANCHORS:-}" "$root/../shared/anchors" /work/shared/anchors; do
    if [ -n "$dir" ] && [ -f "$dir/vault-k8s-$version.tar.gz" ]; then archive="$dir/vault-k8s-$version.tar.gz"; break; fi
  done
  if [ -z "$archive" ]; then
    rm -rf "$tmp"
    say "no vault-k8s-$version.tar.gz in \$VAULT_COURIER_ANCHORS, ../shared/anchors or /work/shared/anchors."
    say "get it with internet: GOBIN=$dest go install github.com/hashicorp/vault-k8s@$version"
    say "or download https://github.com/hashicorp/vault-k8s/archive/refs/tags/$version.tar.gz as vault-k8s-$version.tar.gz into a directory and set VAULT_COURIER_ANCHORS to it"
    exit 3
  fi
  say "building from $archive (about 70 s warm, minutes cold) ..."
  tar -xzf "$archive" -C "$tmp"
  src=$(find "$tmp" -mindepth 2 -maxdepth 2 -name go.mod -printf '%h\n' | head -1)
  heartbeat vault-k8s "vault-k8s $version" >&2 & beat=$!
  if ! (cd "$src" && GOFLAGS=-mod=mod go build -trimpath -ldflags "$ldflags" -o "$tmp/vault-k8s" . >&2); then
    kill "$beat"; rm -rf "$tmp"; say "building vault-k8s $version failed; retry: bash bench/webhook/vault-k8s.sh"; exit 1
  fi
  kill "$beat"; wait "$beat" 2>/dev/null || true
  rm -rf "$src"
fi
rm -f "$tmp/go-install.log"
rm -rf "$dest" && mv "$tmp" "$dest"
say "built vault-k8s $version in $((SECONDS - start)) s: $dest/vault-k8s"
echo "$dest/vault-k8s"
