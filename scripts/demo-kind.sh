#!/usr/bin/env bash
# `npm run demo:kind`: the demo on a kind cluster, for a machine with Docker and kind.
# Checks the tools, creates a kind cluster of its own, builds the project's images with
# `docker build` from the same Dockerfiles and loads them onto its node, then runs
# scripts/demo-kind.ts: Vault and PostgreSQL from their official images, then the same
# steps `npm run demo` runs on the embedded cluster. Deletes the cluster on exit (Ctrl-C
# included) unless --keep. See docs/kind.md.
# Usage: npm run demo:kind [-- --keep] [--once] [--ttl=<seconds>]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
# shellcheck source=images/base.env
source "$here/images/base.env"

# The cluster this script owns: a fixed name, and a marker naming its node container.
# A cluster of that name without a matching marker is someone else's and is never touched.
cluster=vault-courier-demo
node_container="$cluster-control-plane"
marker_dir=${VAULT_COURIER_KIND_MARKERS:-${VAULT_COURIER_CACHE:-$HOME/.cache/vault-courier}/kind}
marker="$marker_dir/$cluster.owner"
images=(webhook:Dockerfile.webhook init:Dockerfile.init sidecar:Dockerfile.sidecar demo-app:packages/demo-app/Dockerfile)

say() { echo "demo:kind: $*" >&2; }
die() { say "$*"; exit 1; }

keep=0
demo_args=()
for arg in "$@"; do
  case $arg in
    --keep) keep=1 ;;
    --once | --ttl=*) demo_args+=("$arg") ;;
    *) die "unknown argument '$arg'; usage: npm run demo:kind [-- --keep] [--once] [--ttl=<seconds, >= 20>]" ;;
  esac
done

# --- pre-flight: every missing tool named, with where to get it ---------------------------
how_to_get() {
  case $1 in
    docker) echo "Docker Engine: https://docs.docker.com/engine/install/" ;;
    kind) echo "kind: https://kind.sigs.k8s.io/docs/user/quick-start/#installation (e.g. go install sigs.k8s.io/kind@latest)" ;;
    kubectl) echo "kubectl: https://kubernetes.io/docs/tasks/tools/#kubectl" ;;
    helm) echo "Helm 3: https://helm.sh/docs/intro/install/" ;;
  esac
}
missing=0
for tool in docker kind kubectl helm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    say "missing: $tool; install $(how_to_get "$tool")"
    missing=1
  fi
done
[ "$missing" = 0 ] || die "install the missing tools above, then rerun: npm run demo:kind"
docker info >/dev/null 2>&1 || die "docker is installed but its engine does not answer (docker info failed): start Docker, or check that this user may use it"

# --- ownership: a cluster of our name is ours only if the marker names its node ------------
node_id() { docker inspect --format '{{.Id}}' "$node_container" 2>/dev/null || true; }
if kind get clusters 2>/dev/null | grep -qx "$cluster"; then
  if [ -f "$marker" ] && [ -n "$(node_id)" ] && [ "$(cat "$marker")" = "$(node_id)" ]; then
    say "recreating kind cluster $cluster, left by an earlier npm run demo:kind -- --keep"
    kind delete cluster --name "$cluster"
    rm -f "$marker"
  else
    die "a kind cluster named $cluster exists and was not created by npm run demo:kind; it is left alone. Remove it yourself (kind delete cluster --name $cluster) to run the demo"
  fi
fi

# --- the cluster, deleted on exit unless --keep ---------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/vault-courier-kind.XXXXXX")
created=0
# shellcheck disable=SC2317 # run by the EXIT trap, which shellcheck does not follow
cleanup() {
  local code=$?
  if [ "$created" = 1 ] && [ "$keep" = 0 ]; then
    say "deleting kind cluster $cluster"
    kind delete cluster --name "$cluster" >&2 || say "could not delete kind cluster $cluster; remove it with: kind delete cluster --name $cluster"
    rm -f "$marker"
  elif [ "$created" = 1 ]; then
    say "kept kind cluster $cluster (kubectl --context kind-$cluster); npm run demo:kind deletes and recreates it next time"
  fi
  rm -rf "$work"
  exit "$code"
}
trap cleanup EXIT
# A Ctrl-C reaches the demo too, which stops its pods first; this shell waits for it, then cleans up.
interrupted=0
trap 'interrupted=1' INT TERM

say "creating kind cluster $cluster"
# Ours from here on, even half-made (a Ctrl-C during create): the name was free.
created=1
kind create cluster --name "$cluster" --wait 120s >&2
mkdir -p "$marker_dir"
node_id > "$marker"

for entry in "${images[@]}"; do
  name=${entry%%:*} dockerfile=${entry#*:}
  say "docker build -f $dockerfile -t vault-courier/$name:$IMAGE_TAG"
  docker build --file "$root/$dockerfile" --tag "vault-courier/$name:$IMAGE_TAG" "$root" >&2
  kind load docker-image --name "$cluster" "vault-courier/$name:$IMAGE_TAG" >&2
done

# The Node the demo's TypeScript needs, and the npm packages (not the embedded cluster's
# parts): only now, since nothing before this runs Node.
bash "$here/setup.sh" --node-only >&2

kubeconfig="$work/kubeconfig"
(umask 077 && kind get kubeconfig --name "$cluster" > "$kubeconfig")
rc=0
bash "$here/node.sh" "$here/demo-kind.ts" "--kubeconfig=$kubeconfig" "${demo_args[@]}" || rc=$?
[ "$interrupted" = 0 ] || [ "$rc" != 0 ] || rc=130
exit "$rc"
