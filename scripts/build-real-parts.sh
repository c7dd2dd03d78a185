#!/usr/bin/env bash
# Builds the real parts the tests and the demo run from the Go module proxy, through the
# wrapper modules in scripts/real-parts/: etcd; kube-apiserver, kube-controller-manager,
# kube-scheduler, kubelet, kube-proxy and kubectl; containerd, ctr and the runc v2 shim;
# crictl; CoreDNS; helm; Vault. Each lands in ~/.cache/vault-courier/<component>-<version>/
# and is reused by every later run. Idempotent; prints progress and each build's duration.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${VAULT_COURIER_CACHE:-$HOME/.cache/vault-courier}
mkdir -p "$cache"

# shellcheck source=real-parts/versions.env
source "$here/real-parts/versions.env"

die() { echo "build-real-parts: $*" >&2; exit 1; }
command -v go >/dev/null || die "no Go toolchain on PATH; install Go >= 1.26 and rerun: bash scripts/build-real-parts.sh"

export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=mod

# shellcheck source=heartbeat.sh
source "$here/heartbeat.sh"

# build <component> <version> <wrapper dir> <ldflags> <tags> <output:package>...
build() {
  local component=$1 version=$2 wrapper=$3 ldflags=$4 tags=$5; shift 5
  local dest="$cache/$component-$version"
  # A change to the wrapper module (a replace, a godebug line) must rebuild, not reuse.
  local stamp missing=0 pair
  stamp=$(cat "$here/real-parts/$wrapper"/* | sha256sum | cut -c1-16)
  for pair in "$@"; do [ -x "$dest/${pair%%:*}" ] || missing=1; done
  [ "$(cat "$dest/.wrapper-stamp" 2>/dev/null)" = "$stamp" ] || missing=1
  if [ $missing = 0 ]; then echo "build-real-parts: $component $version cached in $dest"; return; fi
  echo "build-real-parts: building $component $version (cold build; minutes) ..."
  local start=$SECONDS tmp="$dest.partial"
  rm -rf "$tmp" && mkdir -p "$tmp"
  for pair in "$@"; do
    heartbeat build-real-parts "$component ${pair%%:*}" & local beat=$!
    if ! (cd "$here/real-parts/$wrapper" && go build -trimpath -tags "$tags" -ldflags "$ldflags" -o "$tmp/${pair%%:*}" "${pair#*:}"); then
      kill "$beat"; die "building $component ${pair%%:*} failed; retry with: bash scripts/build-real-parts.sh"
    fi
    kill "$beat"; wait "$beat" 2>/dev/null || true
    echo "build-real-parts: $component ${pair%%:*} done at $((SECONDS - start)) s"
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

helm_ldflags() {
  local major=${KUBE_VERSION#v} minor pkg out="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
  minor=${major#*.}; minor=${minor%%.*}; major=${major%%.*}
  # Offline `helm template` otherwise assumes Kubernetes v1.20 and refuses kubeVersion >= 1.30.
  for pkg in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
    out+=" -X $pkg.k8sVersionMajor=$major -X $pkg.k8sVersionMinor=$minor"
  done
  echo "$out"
}

build etcd "$ETCD_VERSION" etcd "-s -w" "" "etcd:go.etcd.io/etcd/server/v3"
build helm "$HELM_VERSION" helm "$(helm_ldflags)" "" "helm:helm.sh/helm/v3/cmd/helm"
build containerd "$CONTAINERD_VERSION" containerd "-s -w -X github.com/containerd/containerd/v2/version.Version=$CONTAINERD_VERSION" \
  "no_btrfs urfave_cli_no_docs" \
  "containerd:github.com/containerd/containerd/v2/cmd/containerd" \
  "containerd-shim-runc-v2:github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2" \
  "ctr:github.com/containerd/containerd/v2/cmd/ctr"
build crictl "$CRICTL_VERSION" crictl "-s -w" "" "crictl:sigs.k8s.io/cri-tools/cmd/crictl"
build coredns "$COREDNS_VERSION" coredns "-s -w" "" "coredns:vault-courier.local/real-parts/coredns"
build kubernetes "$KUBE_VERSION" kubernetes "$(kube_ldflags)" "" \
  "kube-apiserver:k8s.io/kubernetes/cmd/kube-apiserver" \
  "kube-controller-manager:k8s.io/kubernetes/cmd/kube-controller-manager" \
  "kube-scheduler:k8s.io/kubernetes/cmd/kube-scheduler" \
  "kubelet:k8s.io/kubernetes/cmd/kubelet" \
  "kube-proxy:k8s.io/kubernetes/cmd/kube-proxy" \
  "kubectl:k8s.io/kubernetes/cmd/kubectl"
build vault "$VAULT_VERSION" vault "-s -w -X github.com/hashicorp/vault/version.Version=${VAULT_VERSION#v}" "" \
  "vault:github.com/hashicorp/vault"
