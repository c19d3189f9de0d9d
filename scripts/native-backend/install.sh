#!/usr/bin/env bash
# Install @tensorflow/tfjs-node (the native TensorFlow backend for TF.js) without Google's storage host.
#
# tfjs-node's own installer downloads libtensorflow 2.9.1 from storage.googleapis.com, which is unreachable on
# machines that only reach the package registries. This script builds the archive that installer expects out of the
# TensorFlow C library shipped inside the TensorFlow wheel on PyPI, serves it on 127.0.0.1 for the duration of the
# install, lets tfjs-node build its addon from source (node-gyp) against it, and verifies the result. Then it builds
# ssl3d's own TensorFlow ops (fused LayerNorm and GELU; build_ops.sh) against the same wheel's C++ headers.
# See scripts/native-backend/README.md.
#
# Usage: bash scripts/native-backend/install.sh [--force] [--keep-cache] [--gpu]
#   --force        reinstall even if the package already loads with the 'tensorflow' backend
#   --keep-cache   keep the downloaded wheel and the built archive (default: removed after a successful install)
#   --gpu          @tensorflow/tfjs-node-gpu on the CUDA build of TensorFlow (the 'tensorflow' wheel) instead; it
#                  needs CUDA 12 + cuDNN 9 libraries at run time to use a GPU (see README.md), else it runs on the CPU
# Environment:
#   SSL3D_TF_WHEEL      PyPI package holding the TensorFlow C library (default tensorflow-cpu; tensorflow with --gpu)
#   SSL3D_TF_VERSION    its version (default 2.21.0)
#   SSL3D_TFJS_NODE     tfjs-node version (default 4.22.0)
#   SSL3D_NATIVE_CACHE  scratch folder (default ${TMPDIR:-/tmp}/ssl3d-native-backend)
set -Eeuo pipefail

FORCE=0
KEEP_CACHE=0
GPU=0
ONLY_OPS=0
for arg in "$@"; do
  case "$arg" in
    --force) FORCE=1 ;;
    --keep-cache) KEEP_CACHE=1 ;;
    --gpu) GPU=1 ;;
    -h|--help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown argument '$arg' (use --force, --keep-cache, --gpu)" >&2; exit 2 ;;
  esac
done

if [[ $GPU == 1 ]]; then
  LIBTYPE=gpu PKG_NAME=@tensorflow/tfjs-node-gpu DEFAULT_WHEEL=tensorflow
else
  LIBTYPE=cpu PKG_NAME=@tensorflow/tfjs-node DEFAULT_WHEEL=tensorflow-cpu
fi
TF_WHEEL="${SSL3D_TF_WHEEL:-$DEFAULT_WHEEL}"
TF_VERSION="${SSL3D_TF_VERSION:-2.21.0}"
TFJS_NODE_VERSION="${SSL3D_TFJS_NODE:-4.22.0}"
CACHE="${SSL3D_NATIVE_CACHE:-${TMPDIR:-/tmp}/ssl3d-native-backend}"
# tfjs-node 4.22's installer asks for this file name (deps-constants.js: LIBTENSORFLOW_VERSION = '2.9.1').
TFJS_LIBTF_VERSION="2.9.1"
ARCHIVE_NAME="libtensorflow-$LIBTYPE-linux-x86_64-${TFJS_LIBTF_VERSION}.tar.gz"

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
LOG_DIR="$CACHE/logs"
SERVER_PID=""
T0=$(date +%s)

say() { printf '[native-backend] %s\n' "$*"; }
die() { printf '[native-backend] ERROR: %s\n' "$*" >&2; exit 1; }

cleanup() {
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# run_logged NAME CMD...: run CMD with its output in $LOG_DIR/NAME.log; on failure show the command and its output.
run_logged() {
  local name="$1"; shift
  local log="$LOG_DIR/$name.log"
  local rc=0
  "$@" >"$log" 2>&1 || rc=$?
  if [[ $rc != 0 ]]; then
    {
      printf '[native-backend] ERROR: step "%s" failed (exit %s)\n' "$name" "$rc"
      printf '[native-backend] command: %s\n' "$*"
      printf '[native-backend] last 80 lines of %s:\n' "$log"
      tail -n 80 "$log" | sed 's/^/    /'
    } >&2
    exit 1
  fi
}

need() { command -v "$1" >/dev/null 2>&1 || die "'$1' is required but not found ($2)"; }

verify() {
  (cd "$ROOT" && TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}" node "$SCRIPT_DIR/verify.cjs" "$PKG_NAME")
}
# TensorFlow prints two informational lines at load even with TF_CPP_MIN_LOG_LEVEL=2; hide them.
quiet_tf() { grep -v -e 'All log messages before absl::InitializeLog' -e 'oneDNN custom operations are on' | sed 's/^/    /' || true; }

# ---------------------------------------------------------------------------------------------------------------
[[ "$(uname -s)" == Linux && "$(uname -m)" == x86_64 ]] || die "this route is for Linux x86_64 (got $(uname -s) $(uname -m))"
need node "Node.js"
need npm "npm"
need python3 "pip download, the loopback file server and node-gyp need it"
need g++ "node-gyp compiles the tfjs-node addon (apt-get install g++)"
need make "node-gyp (apt-get install make)"
need tar "archive packing"
need gzip "archive packing"
python3 -m pip --version >/dev/null 2>&1 || die "python3 -m pip is required (apt-get install python3-pip)"
[[ -d "$ROOT/node_modules/@tensorflow/tfjs" ]] || die "run 'npm ci' in $ROOT first (node_modules/@tensorflow/tfjs is missing)"

if [[ $FORCE == 0 ]] && [[ -d "$ROOT/node_modules/$PKG_NAME" ]]; then
  say "$PKG_NAME is already installed; checking it (use --force to reinstall)"
  VRC=0
  VOUT="$(verify 2>&1)" || VRC=$?
  printf '%s\n' "$VOUT" | quiet_tf
  if [[ $VRC == 0 ]]; then
    if [[ $GPU == 1 ]] || bash "$SCRIPT_DIR/build_ops.sh" --pkg "$PKG_NAME" --check >/dev/null 2>&1; then
      say "already installed and working, ssl3d's ops built; nothing to do"
      exit 0
    fi
    say "already installed and working; ssl3d's ops (build_ops.sh) are missing or stale: building them"
    ONLY_OPS=1
  else
    say "the installed copy does not work; reinstalling"
  fi
fi

mkdir -p "$CACHE" "$LOG_DIR"
WHEEL_DIR="$CACHE/wheel-$TF_WHEEL-$TF_VERSION"
STAGE="$CACHE/stage"
SRV="$CACHE/srv-$TF_WHEEL-$TF_VERSION"

# 1. The wheel -----------------------------------------------------------------------------------------------------
say "1/7 downloading $TF_WHEEL==$TF_VERSION from PyPI (pip download --no-deps)"
WHEEL="$(ls "$WHEEL_DIR"/*.whl 2>/dev/null | head -n 1 || true)"
if [[ -z "$WHEEL" ]]; then
  mkdir -p "$WHEEL_DIR"
  # Only the .so files and headers are used, so any CPython tag will do: pin one that every version has a wheel for.
  run_logged pip-download python3 -m pip download --no-deps --only-binary=:all: --python-version 3.11 \
    "$TF_WHEEL==$TF_VERSION" -d "$WHEEL_DIR"
  WHEEL="$(ls "$WHEEL_DIR"/*.whl 2>/dev/null | head -n 1 || true)"
  [[ -n "$WHEEL" ]] || die "pip download produced no wheel in $WHEEL_DIR (see $LOG_DIR/pip-download.log)"
else
  say "    using cached $(basename "$WHEEL")"
fi

# The ops are optional (ssl3d runs the op-by-op forms without them): a failed build warns and the install goes on.
build_ops() {
  if [[ $GPU == 1 ]]; then
    # CPU kernels only: on a GPU, TensorFlow would place these ops on the CPU and copy every tensor there and back
    say "7/7 (skipped for the GPU package: ssl3d's ops are CPU kernels; the GPU runs TF.js's op-by-op forms)"
    return 0
  fi
  say "7/7 building ssl3d's TensorFlow ops (scripts/native-backend/build_ops.sh: fused LayerNorm, GELU, norms, attention, Adam)"
  if ! bash "$SCRIPT_DIR/build_ops.sh" --wheel "$WHEEL" --pkg "$PKG_NAME" --cache "$CACHE"; then
    say "WARNING: ssl3d's TensorFlow ops did not build (above); the native backend works without them, at the speed of"
    say "         TF.js's op-by-op forms. Retry with: bash scripts/native-backend/build_ops.sh --wheel <the wheel>"
  fi
}
if [[ $ONLY_OPS == 1 ]]; then
  build_ops
  [[ $KEEP_CACHE == 0 ]] && rm -rf "$CACHE"
  say "done in $(( $(date +%s) - T0 )) s"
  exit 0
fi

# 2-3. The archive ---------------------------------------------------------------------------------------------------
if [[ -s "$SRV/$ARCHIVE_NAME" ]]; then
  say "2/7 using cached archive $SRV/$ARCHIVE_NAME"
  say "3/7 (skipped)"
else
  say "2/7 extracting libtensorflow_cc.so.2, libtensorflow_framework.so.2 and the C headers from the wheel"
  rm -rf "$STAGE" "$SRV"
  mkdir -p "$STAGE/wheel" "$STAGE/pkg/lib" "$STAGE/pkg/include" "$SRV"
  run_logged unzip python3 - "$WHEEL" "$STAGE/wheel" <<'PY'
import sys, zipfile
whl, dest = sys.argv[1], sys.argv[2]
want = ('tensorflow/libtensorflow_cc.so.2', 'tensorflow/libtensorflow_framework.so.2')
with zipfile.ZipFile(whl) as z:
    names = z.namelist()
    missing = [w for w in want if w not in names]
    if missing:
        sys.exit('the wheel lacks %s; this TensorFlow version does not ship the C library this way' % missing)
    members = list(want) + [n for n in names if n.startswith('tensorflow/include/') and n.endswith('.h')]
    for n in members:
        z.extract(n, dest)
    print('extracted', len(members), 'files')
PY
  W="$STAGE/wheel/tensorflow"
  # The C API must be exported (TensorFlow's build exports TF_*/TFE_* from libtensorflow_cc.so.2).
  if command -v nm >/dev/null 2>&1; then
    [[ "$(nm -D --defined-only "$W/libtensorflow_cc.so.2" | grep -c ' TFE_NewContext@*' || true)" != 0 ]] ||
      die "libtensorflow_cc.so.2 in $(basename "$WHEEL") does not export the eager C API (TFE_NewContext)"
  fi

  say "3/7 packing $ARCHIVE_NAME (lib/ + include/ as tfjs-node's installer expects)"
  mv "$W/libtensorflow_cc.so.2" "$W/libtensorflow_framework.so.2" "$STAGE/pkg/lib/"
  (
    cd "$STAGE/pkg/lib"
    # node-gyp links with -ltensorflow -ltensorflow_framework; the installer checks lib/libtensorflow.so.2.9.1.
    # The addon records the SONAME (libtensorflow_cc.so.2), found at run time through its rpath ($ORIGIN/../../deps/lib).
    for n in libtensorflow.so libtensorflow.so.2 "libtensorflow.so.$TFJS_LIBTF_VERSION"; do ln -sf libtensorflow_cc.so.2 "$n"; done
    for n in libtensorflow_framework.so "libtensorflow_framework.so.$TFJS_LIBTF_VERSION"; do ln -sf libtensorflow_framework.so.2 "$n"; done
  )
  # Headers: tensorflow/c/** plus whatever the binding's includes pull in (tsl/, xla/tsl/ ... depending on version).
  INC="$W/include"
  cat >"$STAGE/hdr.cc" <<'EOF'
#include "tensorflow/c/c_api.h"
#include "tensorflow/c/eager/c_api.h"
#include "tensorflow/c/tf_datatype.h"
#include "tensorflow/c/tf_status.h"
#include "tensorflow/c/tf_tensor.h"
#include "tensorflow/c/tf_tstring.h"
#include "tensorflow/core/platform/ctstring_internal.h"
EOF
  run_logged headers g++ -std=c++17 -M -I "$INC" "$STAGE/hdr.cc" -o "$STAGE/hdr.d"
  (
    cd "$INC"
    { find tensorflow/c -name '*.h'
      tr ' \\' '\n\n' <"$STAGE/hdr.d" | grep "^$INC/" | sed "s#^$INC/##"
    } | sort -u | while read -r h; do mkdir -p "$STAGE/pkg/include/$(dirname "$h")"; cp "$h" "$STAGE/pkg/include/$h"; done
  )
  GZ="gzip -1"; command -v pigz >/dev/null 2>&1 && GZ="pigz -1"
  run_logged pack bash -c "tar -C '$STAGE/pkg' -cf - lib include | $GZ > '$SRV/$ARCHIVE_NAME.part' && mv '$SRV/$ARCHIVE_NAME.part' '$SRV/$ARCHIVE_NAME'"
  rm -rf "$STAGE"
  say "    $(du -h "$SRV/$ARCHIVE_NAME" | cut -f1) archive at $SRV/$ARCHIVE_NAME"
fi

# 4. Loopback server -------------------------------------------------------------------------------------------------
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')"
say "4/7 serving $SRV on http://127.0.0.1:$PORT/ (for the duration of the install)"
python3 -m http.server "$PORT" --bind 127.0.0.1 --directory "$SRV" >"$LOG_DIR/http-server.log" 2>&1 &
SERVER_PID=$!
URL="http://127.0.0.1:$PORT/$ARCHIVE_NAME"
for _ in $(seq 1 50); do
  if python3 -c "import urllib.request,sys; urllib.request.urlopen(urllib.request.Request(sys.argv[1], method='HEAD'), timeout=2)" "$URL" 2>/dev/null; then
    break
  fi
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$LOG_DIR/http-server.log" >&2; die "the loopback file server exited"; }
  sleep 0.2
done
python3 -c "import urllib.request,sys; urllib.request.urlopen(urllib.request.Request(sys.argv[1], method='HEAD'), timeout=2)" "$URL" 2>/dev/null ||
  die "the loopback file server does not answer on $URL (see $LOG_DIR/http-server.log)"

# 5. npm install ------------------------------------------------------------------------------------------------------
say "5/7 npm install --no-save $PKG_NAME@$TFJS_NODE_VERSION (builds the addon with node-gyp; about 30 s)"
NPM_ENV=(
  # where tfjs-node's scripts/install.js fetches libtensorflow from: ${BASE_URI}{cpu,gpu}-linux-x86_64-2.9.1.tar.gz
  "TFJS_NODE_BASE_URI=http://127.0.0.1:$PORT/libtensorflow-"
  # skip the prebuilt-addon download (Google storage; and it was linked for libtensorflow 2.9.1): build from source
  "npm_config_build_from_source=$PKG_NAME"
)
# node-gyp needs Node's headers; use the local ones instead of downloading them from nodejs.org.
NODEDIR="${npm_config_nodedir:-$(npm config get nodedir 2>/dev/null || true)}"
[[ "$NODEDIR" == undefined || "$NODEDIR" == null ]] && NODEDIR=""
if [[ -z "$NODEDIR" ]]; then
  NODE_PREFIX="$(cd "$(dirname "$(readlink -f "$(command -v node)")")/.." && pwd)"
  if [[ -f "$NODE_PREFIX/include/node/node_api.h" ]]; then
    NODEDIR="$NODE_PREFIX"
  else
    say "    warning: no Node.js headers under $NODE_PREFIX/include/node; node-gyp will try to download them"
  fi
fi
[[ -n "$NODEDIR" ]] && NPM_ENV+=("npm_config_nodedir=$NODEDIR")
# tfjs-node's downloader sends every request (our loopback one too) through HTTP(S)_PROXY when set; hand the proxy to
# npm through its own config instead, so that the registry is still reached through it.
PROXY_UNSET=()
for v in HTTPS_PROXY https_proxy HTTP_PROXY http_proxy; do
  if [[ -n "${!v:-}" ]]; then
    PROXY_UNSET+=(-u "$v")
    case "$v" in
      HTTPS_PROXY|https_proxy) NPM_ENV+=("npm_config_https_proxy=${!v}") ;;
      *) NPM_ENV+=("npm_config_proxy=${!v}") ;;
    esac
  fi
done
T_NPM=$(date +%s)
if [[ -e "$ROOT/node_modules/$PKG_NAME" ]]; then
  # npm would keep an installed copy as it is (same version): remove it so that its install script runs again.
  say "    removing the existing node_modules/$PKG_NAME"
  rm -rf "$ROOT/node_modules/$PKG_NAME"
fi
(
  cd "$ROOT"
  run_logged npm-install env "${PROXY_UNSET[@]}" "${NPM_ENV[@]}" npm install --no-save --no-audit --no-fund \
    --foreground-scripts "$PKG_NAME@$TFJS_NODE_VERSION"
)
PKG="$ROOT/node_modules/$PKG_NAME"
[[ -f "$PKG/package.json" ]] || die "npm install finished but $PKG is missing (see $LOG_DIR/npm-install.log)"
if ! ls "$PKG"/lib/napi-v*/tfjs_binding.node >/dev/null 2>&1; then
  # The install script did not run: npm's allowScripts policy (npm 11 warns that dependencies' install scripts are
  # not covered by "allowScripts"; --allow-scripts is refused for project installs) or ignore-scripts. Run it here.
  say "    tfjs-node's install script did not run; running it: node scripts/install.js"
  (
    cd "$PKG"
    run_logged tfjs-node-install env "${PROXY_UNSET[@]}" "${NPM_ENV[@]}" \
      "npm_config_node_gyp=${npm_config_node_gyp:-$(npm root -g)/npm/node_modules/node-gyp/bin/node-gyp.js}" \
      PATH="$ROOT/node_modules/.bin:$PATH" node scripts/install.js "$LIBTYPE"
  )
fi
say "    npm install took $(( $(date +%s) - T_NPM )) s"
cleanup
SERVER_PID=""
say "    loopback server stopped"
ADDON="$(ls "$PKG"/lib/napi-v*/tfjs_binding.node 2>/dev/null | head -n 1 || true)"
if [[ -z "$ADDON" ]]; then
  echo "[native-backend] ERROR: npm install finished but no tfjs_binding.node was built; last 80 lines of the log:" >&2
  tail -n 80 "$LOG_DIR/npm-install.log" | sed 's/^/    /' >&2
  exit 1
fi

# 6. Verify -----------------------------------------------------------------------------------------------------------
say "6/7 verifying (conv3d + matmul on the 'tensorflow' backend)"
if ! verify >"$LOG_DIR/verify.log" 2>&1; then
  echo "[native-backend] ERROR: verification failed; output:" >&2
  sed 's/^/    /' "$LOG_DIR/verify.log" >&2
  if command -v ldd >/dev/null 2>&1; then
    echo "[native-backend] ldd $ADDON:" >&2
    ldd "$ADDON" | sed 's/^/    /' >&2
  fi
  exit 1
fi
quiet_tf <"$LOG_DIR/verify.log"
build_ops
if [[ $KEEP_CACHE == 0 ]]; then
  rm -rf "$CACHE"
else
  say "    kept the cache in $CACHE"
fi
say "done in $(( $(date +%s) - T0 )) s: $PKG_NAME@$TFJS_NODE_VERSION on $TF_WHEEL $TF_VERSION's C library"
if [[ $GPU == 1 ]]; then AGAIN="npm run backend:native -- --gpu"; else AGAIN="npm run backend:native"; fi
say "note: it is not in package.json; 'npm ci' or a later 'npm install <pkg>' removes it: rerun '$AGAIN'"
