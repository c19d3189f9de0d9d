#!/usr/bin/env bash
# Builds .gpu/ for the device run (scripts/gpu/device_run.sh): everything ssl3d needs on a GPU machine that has
# no Node.js and no network.
#
#   .gpu/ssl3d-gpu.tar.xz   app/: node (this machine's binary, x86-64), dist/ (compiled here from src/, so the
#                           checkout's dist/ is left alone), bin/, configs/, json_files/, bench/, package.json,
#                           PACKED.json, and a flat node_modules/ with the runtime dependencies (`npm install
#                           --omit=dev` from package-lock.json) plus webgpu (Dawn; dist/linux-x64/dawn.node only)
#                           and @tensorflow/tfjs-backend-webgpu; one copy of @tensorflow/tfjs-core
#   .gpu/*.deb              the Vulkan loader and libglvnd (Debian's: libvulkan1, libglvnd0, libglx0, libegl1, libgl1,
#                           libopengl0, libgles2); NVIDIA's Vulkan ICD (libGLX_nvidia) does not load without libglvnd
#   .gpu/monai-*.whl        the MONAI version installed here (py3-none-any), for a machine without MONAI
#
# Usage: bash scripts/gpu/pack.sh   (from anywhere; needs npm registry access, apt-get, python3 -m pip; ~2 min)
# Env: WEBGPU_VERSION (0.6.2), TFJS_WEBGPU_VERSION (4.22.0), MONAI_VERSION (default: python3 -m pip show monai),
#      XZ_LEVEL (6), NICE (19).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT=$ROOT/.gpu
WEBGPU_VERSION=${WEBGPU_VERSION:-0.6.2}
TFJS_WEBGPU_VERSION=${TFJS_WEBGPU_VERSION:-4.22.0}
XZ_LEVEL=${XZ_LEVEL:-6}
N="nice -n ${NICE:-19}"
NODE=$(command -v node)
[ "$(uname -m)" = x86_64 ] || { echo "pack.sh: this machine is $(uname -m); the GPU machine needs an x86-64 node" >&2; exit 1; }

STAGE=$(mktemp -d /tmp/ssl3d-gpu-pack.XXXXXX)
trap 'rm -rf "$STAGE"' EXIT
APP=$STAGE/app
mkdir -p "$APP" "$OUT"
EXCLUDE=$(cd "$ROOT" && cd "$(git rev-parse --git-common-dir)" && pwd)/info/exclude
grep -qxF '/.gpu/' "$EXCLUDE" 2>/dev/null || echo '/.gpu/' >>"$EXCLUDE"

echo "== compile src/ → app/dist"
$N "$NODE" "$ROOT/node_modules/typescript/bin/tsc" -p "$ROOT/tsconfig.build.json" --outDir "$APP/dist" \
  --declaration false --sourceMap false

echo "== copy bin/ configs/ json_files/ bench/ package.json"
cp -r "$ROOT/bin" "$ROOT/configs" "$ROOT/json_files" "$APP/"
mkdir -p "$APP/bench"
cp "$ROOT"/bench/*.mjs "$ROOT"/bench/*.py "$APP/bench/"
cp "$ROOT/package.json" "$APP/"
cp "$NODE" "$APP/node"

echo "== node_modules (npm install --omit=dev + webgpu@$WEBGPU_VERSION @tensorflow/tfjs-backend-webgpu@$TFJS_WEBGPU_VERSION)"
mkdir -p "$STAGE/npm"
cp "$ROOT/package.json" "$ROOT/package-lock.json" "$STAGE/npm/"
(cd "$STAGE/npm" && $N npm install --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error \
  "webgpu@$WEBGPU_VERSION" "@tensorflow/tfjs-backend-webgpu@$TFJS_WEBGPU_VERSION" >/dev/null)
mv "$STAGE/npm/node_modules" "$APP/node_modules"
NM=$APP/node_modules
cores=$(find "$NM" -path '*/@tensorflow/tfjs-core/package.json' | wc -l)
[ "$cores" = 1 ] || { echo "pack.sh: $cores copies of @tensorflow/tfjs-core in node_modules (the webgpu backend would register with another engine)" >&2; exit 1; }

echo "== prune node_modules"
rm -rf "$NM/.bin" "$NM/.package-lock.json" "$NM/@webgpu" "$NM/@types"
# webgpu: index.js + the Linux x86-64 addon.
W=$NM/webgpu
find "$W/dist" -mindepth 1 -maxdepth 1 ! -name linux-x64 -exec rm -rf {} +
rm -rf "$W/build" "$W/node_modules" "$W/types.d.ts"
# @tensorflow/*: package.json + the file `main` names (Node's require needs nothing else), and wasm's files.
for p in "$NM"/@tensorflow/*; do
  main=$("$NODE" -p "require('$p/package.json').main")
  keep=$STAGE/keep
  rm -rf "$keep" && mkdir -p "$keep/$(dirname "$main")"
  cp "$p/$main" "$keep/$main"
  cp "$p/package.json" "$keep/"
  [ -f "$p/LICENSE" ] && cp "$p/LICENSE" "$keep/"
  # wasm: its binaries, and wasm-out/ (the threaded build's glue and worker, started by src/backend/wasm_threads.ts)
  if [ "$(basename "$p")" = tfjs-backend-wasm ]; then
    cp "$p"/dist/*.wasm "$keep/dist/"
    mkdir -p "$keep/wasm-out" && cp "$p"/wasm-out/*.js "$p"/wasm-out/*.wasm "$keep/wasm-out/"
  fi
  rm -rf "$p" && mv "$keep" "$p"
done
find "$NM" \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' -o -name '*.md' -o -name '*.ts' \) -type f -delete

echo "== smoke test of the bundle (wasm backend; webgpu packages load)"
(cd "$APP" && SSL3D_BACKEND=wasm ./node -e "
  const { initBackend } = require('./dist/backend/select.js');
  initBackend().then(({ tf, info }) => { require('webgpu'); require('@tensorflow/tfjs-backend-webgpu');
    const s = tf.sum(tf.matMul(tf.ones([64, 64]), tf.ones([64, 64]))).dataSync()[0];
    console.log('  ok:', info.name, tf.version.tfjs, require('./dist/index.js').UNETR.name, s === 262144 ? 'matmul ok' : 'matmul WRONG ' + s); });" 2>&1 | grep -v '^$\|====\|Hi, looks like\|install our node backend')

GIT=$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)
cat >"$APP/PACKED.json" <<EOF
{"date": "$(date -u +%FT%TZ)", "source": "$GIT", "node": "$("$NODE" --version)", "webgpu": "$WEBGPU_VERSION", "tfjs_backend_webgpu": "$TFJS_WEBGPU_VERSION", "tfjs": "$("$NODE" -p "require('$NM/@tensorflow/tfjs/package.json').version")"}
EOF

echo "== archive (xz -$XZ_LEVEL)"
rm -f "$OUT"/ssl3d-gpu.tar.xz "$OUT"/*.deb "$OUT"/monai-*.whl
tar -C "$STAGE" -cf - app | $N xz -"$XZ_LEVEL" -T1 >"$OUT/ssl3d-gpu.tar.xz"

echo "== libvulkan1 (.deb, amd64)"
mkdir -p /tmp/amd64/partial
o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
# shellcheck disable=SC2086
apt-get $o update -qq >/dev/null 2>&1 || apt-get $o update
# shellcheck disable=SC2086
(cd "$OUT" && apt-get $o download libvulkan1 libglvnd0 libglx0 libegl1 libgl1 libopengl0 libgles2 2>&1 | grep -v 'couldn.t be accessed by user' || true)
ls "$OUT"/libvulkan1_*.deb >/dev/null

echo "== MONAI wheel"
MONAI_VERSION=${MONAI_VERSION:-$(python3 -m pip show monai 2>/dev/null | sed -n 's/^Version: //p')}
[ -n "$MONAI_VERSION" ] || { echo "pack.sh: MONAI is not installed here; set MONAI_VERSION" >&2; exit 1; }
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux2014_x86_64 --platform any -d "$OUT" "monai==$MONAI_VERSION"

echo "== .gpu/"
ls -la "$OUT"
total=$(du -sb "$OUT" | cut -f1)
echo "total: $((total / 1048576)) MiB ($total bytes)"
[ "$total" -lt $((50 * 1048576)) ] || { echo "pack.sh: .gpu/ is over 50 MiB" >&2; exit 1; }
