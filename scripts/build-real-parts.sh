#!/usr/bin/env bash
# Builds the real parts the tests and the demo run (etcd, kube-apiserver,
# kube-controller-manager, vault) from the Go module proxy, through the wrapper modules in
# scripts/real-parts/. Each lands in ~/.cache/vault-courier/<component>-<version>/ and is
# reused by every later run. Idempotent; prints each build's duration.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${VAULT_COURIER_CACHE:-$HOME/.cache/vault-courier}
mkdir -p "$cache"

# shellcheck source=real-parts/versions.env
source "$here/real-parts/versions.env"

die() { echo "build-real-parts: $*" >&2; exit 1; }
command -v go >/dev/null || die "no Go toolchain on PATH; install Go >= 1.26 and rerun: bash scripts/build-real-parts.sh"

export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=mod

# build <component> <version> <wrapper dir> <ldflags> <output:package>...
build() {
  local component=$1 version=$2 wrapper=$3 ldflags=$4; shift 4
  local dest="$cache/$component-$version"
  # A change to the wrapper module (a replace, a godebug line) must rebuild, not reuse.
  local stamp missing=0 pair
  stamp=$(cat "$here/real-parts/$wrapper/go.mod" "$here/real-parts/$wrapper/go.sum" | sha256sum | cut -c1-16)
  for pair in "$@"; do [ -x "$dest/${pair%%:*}" ] || missing=1; done
  [ "$(cat "$dest/.wrapper-stamp" 2>/dev/null)" = "$stamp" ] || missing=1
  if [ $missing = 0 ]; then echo "build-real-parts: $component $version cached in $dest"; return; fi
  echo "build-real-parts: building $component $version (cold build; minutes) ..."
  local start=$SECONDS tmp="$dest.partial"
  rm -rf "$tmp" && mkdir -p "$tmp"
  for pair in "$@"; do
    (cd "$here/real-parts/$wrapper" && go build -trimpath -ldflags "$ldflags" -o "$tmp/${pair%%:*}" "${pair#*:}") \
      || die "building $component ${pair%%:*} failed; retry with: bash scripts/build-real-parts.sh"
  done
  echo "$stamp" > "$tmp/.wrapper-stamp"
  rm -rf "$dest" && mv "$tmp" "$dest"
  echo "build-real-parts: built $component $version in $((SECONDS - start)) s"
}

kube_ldflags() {
  local v=$KUBE_VERSION major minor pkg out=""
  major=${v#v}; major=${major%%.*}; minor=${v#v*.}; minor=${minor%%.*}
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    out+=" -X $pkg.gitVersion=$v -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  done
  echo "-s -w$out"
}

build etcd "$ETCD_VERSION" etcd "-s -w" "etcd:go.etcd.io/etcd/server/v3"
build kubernetes "$KUBE_VERSION" kubernetes "$(kube_ldflags)" \
  "kube-apiserver:k8s.io/kubernetes/cmd/kube-apiserver" \
  "kube-controller-manager:k8s.io/kubernetes/cmd/kube-controller-manager"
build vault "$VAULT_VERSION" vault "-s -w -X github.com/hashicorp/vault/version.Version=${VAULT_VERSION#v}" \
  "vault:github.com/hashicorp/vault"
