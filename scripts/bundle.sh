#!/usr/bin/env bash
# Builds the release bundle that scripts/install.sh installs on a site controller:
#   out/cellwatch-<version>-linux-<arch>.tar.gz  holding  cellwatch-<version>/
#     bin/cellwatch                 launcher: the bundled Node when there is one, else node >= 20.10 on PATH
#     dist/ models/ deploy/ docs/   compiled JavaScript, the default models, unit and example configs
#     node_modules/                 production dependencies only, native parts built for this machine
#     scripts/install.sh, scripts/uninstall.sh, README.md, package.json, package-lock.json, BUILD-INFO
# Native modules (better-sqlite3, unix-dgram) are compiled for the machine that builds, so build an arm64
# bundle on arm64 (scripts/arm64-demo.sh does it under qemu). onnxruntime-node ships every platform's
# binaries; all but linux/<this arch> are removed.
#
# usage: scripts/bundle.sh [--out DIR] [--with-node] [--fresh]
#   --with-node  pin a Node runtime: the npm registry's node-linux-<arch> of this Node's exact version goes
#                into node/ and bin/cellwatch uses it
#   --fresh      install the production dependencies with npm ci in the staging folder (compiles the native
#                modules, about 70 s) instead of copying this checkout's node_modules and pruning it
# Prints the bundle's path as its last line.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$REPO/out
WITH_NODE=0
FRESH=0
while [ $# -gt 0 ]; do
  case $1 in
    --out) [ $# -ge 2 ] && [ -n "$2" ] || { echo "bundle: --out needs a value (see --help)" >&2; exit 64; }
      OUT=$2; shift 2 ;;
    --with-node) WITH_NODE=1; shift ;;
    --fresh) FRESH=1; shift ;;
    -h | --help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "bundle: unknown option $1 (see --help)" >&2; exit 64 ;;
  esac
done

cd "$REPO"
VERSION=$(node -p 'require("./package.json").version')
ARCH=$(node -p 'process.arch')
NAME=cellwatch-$VERSION
export ONNXRUNTIME_NODE_INSTALL=skip npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false

STAGE=$(mktemp -d "${TMPDIR:-/tmp}/cellwatch-bundle.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
DIR=$STAGE/$NAME
mkdir -p "$DIR/bin" "$DIR/scripts"

echo "bundle: building $NAME for linux-$ARCH" >&2
[ -d node_modules ] || npm ci >&2
npm run --silent build >&2
cp -a dist models deploy docs README.md package.json package-lock.json "$DIR/"
cp scripts/install.sh scripts/uninstall.sh "$DIR/scripts/"

if [ "$FRESH" = 1 ]; then
  (cd "$DIR" && npm ci --omit=dev --foreground-scripts >&2)
else
  cp -a node_modules "$DIR/"
  (cd "$DIR" && npm prune --omit=dev --ignore-scripts >&2)
fi
NM=$DIR/node_modules
# onnxruntime binaries of other platforms: about 300 MB of the 350 MB the package holds.
for platform in "$NM"/onnxruntime-node/bin/napi-v*/*; do
  [ "$(basename "$platform")" = linux ] || rm -rf "$platform"
done
for arch in "$NM"/onnxruntime-node/bin/napi-v*/linux/*; do
  [ "$(basename "$arch")" = "$ARCH" ] || rm -rf "$arch"
done
ls "$NM"/onnxruntime-node/bin/napi-v*/linux/"$ARCH"/onnxruntime_binding.node >/dev/null ||
  { echo "bundle: onnxruntime-node has no linux/$ARCH binary" >&2; exit 1; }
# Sources and objects of the compiled modules; only build/Release/*.node is loaded.
for module in better-sqlite3 unix-dgram; do
  rm -rf "$NM/$module/deps" "$NM/$module/src" "$NM/$module/build/deps"
  find "$NM/$module/build" -mindepth 1 -maxdepth 2 ! -name '*.node' ! -name Release -exec rm -rf {} +
done

NODE_PIN=none
if [ "$WITH_NODE" = 1 ]; then
  node_version=$(node -p 'process.versions.node')
  (cd "$STAGE" && npm pack "node-linux-$ARCH@$node_version" --silent >/dev/null)
  mkdir -p "$DIR/node"
  tar -xzf "$STAGE/node-linux-$ARCH-$node_version.tgz" -C "$DIR/node" --strip-components=1 --no-same-owner
  # Only the runtime: npm, headers and docs are not needed on a site.
  find "$DIR/node" -mindepth 1 -maxdepth 1 ! -name bin ! -name LICENSE -exec rm -rf {} +
  find "$DIR/node/bin" -mindepth 1 ! -name node -exec rm -rf {} +
  chmod 755 "$DIR/node/bin/node"
  NODE_PIN=$node_version
fi

cat > "$DIR/bin/cellwatch" <<'LAUNCHER'
#!/bin/sh
# cellwatch launcher: the Node runtime bundled with this release, else CELLWATCH_NODE, else node on PATH.
here=$(dirname "$(readlink -f "$0")")
release=$(dirname "$here")
if [ -x "$release/node/bin/node" ]; then node=$release/node/bin/node
else node=${CELLWATCH_NODE:-$(command -v node || true)}
fi
[ -n "$node" ] || { echo "cellwatch: no Node.js found (needs 20.10 or later; set CELLWATCH_NODE)" >&2; exit 69; }
check='const [a, b] = process.versions.node.split(".").map(Number);
  process.exit(a > 20 || (a == 20 && b >= 10) ? 0 : 1)'
if ! "$node" -e "$check"; then
  echo "cellwatch: $node is Node $("$node" -p process.versions.node); cellwatch needs 20.10 or later" >&2
  exit 69
fi
exec "$node" "$release/dist/cli/main.js" "$@"
LAUNCHER
chmod 755 "$DIR/bin/cellwatch"

COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD 2>/dev/null || COMMIT=$COMMIT-dirty
cat > "$DIR/BUILD-INFO" <<INFO
name=cellwatch
version=$VERSION
commit=$COMMIT
platform=linux-$ARCH
built_with_node=$(node -p 'process.versions.node')
node_pinned=$NODE_PIN
built_at=$(date -u +%FT%TZ)
INFO

mkdir -p "$OUT"
TARBALL=$OUT/$NAME-linux-$ARCH.tar.gz
tar -C "$STAGE" -czf "$TARBALL.tmp" "$NAME"
mv "$TARBALL.tmp" "$TARBALL"
echo "bundle: $(du -sh "$DIR" | cut -f1) unpacked, $(du -h "$TARBALL" | cut -f1) packed, node $NODE_PIN" >&2
echo "$TARBALL"
