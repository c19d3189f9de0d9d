#!/usr/bin/env bash
# Build ssl3d's own TensorFlow ops (ops/*.cc: LayerNorm, instance norm, GELU, softmax, attention heads, grouped Adam;
# see ops/common.h) for the native backend: a Node addon compiled against the headers of the TensorFlow wheel whose C
# library tfjs-node runs on, put beside that library in tfjs-node's deps/lib with a manifest (ssl3d_ops.json) that src/backend/native_ops.ts checks
# before loading it. install.sh runs this after installing tfjs-node; run it by hand after editing the ops.
#
# Usage: bash scripts/native-backend/build_ops.sh --wheel TENSORFLOW_WHEEL.whl [--pkg @tensorflow/tfjs-node]
#        [--cache DIR] [--check]
#   --wheel     the wheel the backend's libtensorflow came from (install.sh: tensorflow-cpu 2.21.0 from PyPI)
#   --pkg       the installed package to build for (default @tensorflow/tfjs-node; or @tensorflow/tfjs-node-gpu)
#   --cache     where the wheel's headers are unpacked (default ${TMPDIR:-/tmp}/ssl3d-native-backend)
#   --check     only say whether a build is needed (exit 0: up to date, 1: stale or missing); needs no wheel
set -Eeuo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
OPS_DIR="$SCRIPT_DIR/ops"
WHEEL="" PKG_NAME="@tensorflow/tfjs-node" CACHE="${TMPDIR:-/tmp}/ssl3d-native-backend" CHECK=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --wheel) WHEEL="$2"; shift 2 ;;
    --pkg) PKG_NAME="$2"; shift 2 ;;
    --cache) CACHE="$2"; shift 2 ;;
    --check) CHECK=1; shift ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build_ops.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
say() { printf '[native-ops] %s\n' "$*"; }
die() { printf '[native-ops] ERROR: %s\n' "$*" >&2; exit 1; }

LIB_DIR="$ROOT/node_modules/$PKG_NAME/deps/lib"
FRAMEWORK="$LIB_DIR/libtensorflow_framework.so.2"
OUT="$LIB_DIR/ssl3d_ops.node"
MANIFEST="$LIB_DIR/ssl3d_ops.json"
[[ -f "$FRAMEWORK" ]] || die "no $FRAMEWORK: install the native backend first (npm run backend:native)"
SOURCES=("$OPS_DIR"/*.cc)
# one hash over every source file (names and contents, in name order)
SRC_SHA="$(cd "$OPS_DIR" && sha256sum -- *.cc *.h | sha256sum | cut -d' ' -f1)"
FW_BYTES="$(stat -c %s "$FRAMEWORK")"

up_to_date() {
  [[ -f "$OUT" && -f "$MANIFEST" ]] || return 1
  python3 - "$MANIFEST" "$SRC_SHA" "$FW_BYTES" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
sys.exit(0 if m.get('sourceSha256') == sys.argv[2] and str(m.get('frameworkBytes')) == sys.argv[3] else 1)
PY
}
if [[ $CHECK == 1 ]]; then
  if up_to_date; then say "up to date: $OUT"; exit 0; else say "missing or stale: $OUT"; exit 1; fi
fi
[[ -n "$WHEEL" && -f "$WHEEL" ]] || die "--wheel: the TensorFlow wheel is needed for its C++ headers (got '${WHEEL}')"
command -v g++ >/dev/null || die "g++ is required (apt-get install g++)"

# Node's headers (node_api.h), as install.sh finds them for node-gyp
NODE_PREFIX="$(cd "$(dirname "$(readlink -f "$(command -v node)")")/.." && pwd)"
NODE_INC=""
for d in "${npm_config_nodedir:-}/include/node" "$NODE_PREFIX/include/node" /usr/include/node; do
  [[ -f "$d/node_api.h" ]] && { NODE_INC="$d"; break; }
done
[[ -n "$NODE_INC" ]] || die "no node_api.h (Node.js headers) under $NODE_PREFIX/include/node or /usr/include/node"

# The wheel's C++ headers (TensorFlow, Eigen, absl, ...), unpacked once per wheel
TF_VERSION="$(basename "$WHEEL" | sed -E 's/^[a-z_]+-([0-9][^-]*)-.*/\1/')"
INC="$CACHE/include-$(basename "$WHEEL" .whl)"
if [[ ! -f "$INC/.complete" ]]; then
  say "unpacking the C++ headers of $(basename "$WHEEL")"
  rm -rf "$INC" && mkdir -p "$INC"
  python3 - "$WHEEL" "$INC" <<'PY'
import os, sys, zipfile
whl, dest = sys.argv[1], sys.argv[2]
prefix = 'tensorflow/include/'
with zipfile.ZipFile(whl) as z:
    names = [n for n in z.namelist() if n.startswith(prefix) and not n.endswith('/')]
    if not names:
        sys.exit('the wheel has no tensorflow/include/: it cannot build TensorFlow ops')
    for n in names:
        target = os.path.join(dest, n[len(prefix):])
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with z.open(n) as src, open(target, 'wb') as out:
            out.write(src.read())
print(len(names), 'headers')
PY
  touch "$INC/.complete"
fi

# Compile flags as tf.sysconfig.get_compile_flags() gives them for the pip package, plus AVX2/FMA when the CPU has
# them (the loops are vectorised by the compiler; Eigen's erf/exp by Eigen). -march=native is avoided: Eigen's
# AVX512-FP16 headers do not compile with GCC 12. -ffp-contract=off: no a·b + c fused into one rounding, so that
# Ssl3dAdamGroup rounds as the op-by-op update does.
ARCH=()
if grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo; then ARCH=(-mavx2 -mfma); fi
say "compiling ${#SOURCES[@]} files of ops/ for TensorFlow $TF_VERSION (g++ $(g++ -dumpversion); about 20 s)"
T0=$(date +%s)
OBJ="$CACHE/ops-obj"
rm -rf "$OBJ" && mkdir -p "$OBJ"
CXXFLAGS=(-std=c++17 -fPIC -O3 -ffp-contract=off "${ARCH[@]}" -D_GLIBCXX_USE_CXX11_ABI=1 -DEIGEN_MAX_ALIGN_BYTES=64 -DNDEBUG -w
  -I "$INC" -I "$NODE_INC" -I "$OPS_DIR")
# two at a time (each file pulls in TensorFlow's and Eigen's headers: ~8 s of one core)
printf '%s\n' "${SOURCES[@]}" | xargs -P "$(nproc 2>/dev/null || echo 2)" -I{} sh -c \
  'g++ "$@" -c "$0" -o "'"$OBJ"'/$(basename "$0" .cc).o" || { echo "[native-ops] compiling $0 failed" >&2; exit 255; }' {} "${CXXFLAGS[@]}" ||
  die "compiling the ops failed (see the compiler output above)"
g++ -shared "$OBJ"/*.o -o "$OUT.part" -L "$LIB_DIR" -l:libtensorflow_framework.so.2 -Wl,-rpath,'$ORIGIN' ||
  { rm -f "$OUT.part"; die "linking $OUT failed (see above)"; }
mv "$OUT.part" "$OUT"
OPS_JSON="$(cat "${SOURCES[@]}" | grep -o 'REGISTER_OP("[A-Za-z0-9]*")' | sed -E 's/REGISTER_OP\("([^"]*)"\)/"\1"/' | paste -sd, -)"
cat >"$MANIFEST" <<EOF
{"tfVersion": "$TF_VERSION", "frameworkBytes": $FW_BYTES, "sourceSha256": "$SRC_SHA", "ops": [$OPS_JSON], "built": "$(date -u +%Y-%m-%dT%H:%M:%SZ)"}
EOF
say "built $OUT in $(( $(date +%s) - T0 )) s"

# Load it into the backend and compare with the op-by-op forms
VLOG="$CACHE/verify_ops.log"
mkdir -p "$CACHE"
VRC=0
(cd "$ROOT" && TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}" node "$SCRIPT_DIR/verify_ops.cjs" "$PKG_NAME") >"$VLOG" 2>&1 || VRC=$?
grep -v -e 'All log messages before absl::InitializeLog' -e 'oneDNN custom operations are on' "$VLOG" | sed 's/^/    /' || true
[[ $VRC == 0 ]] || { rm -f "$OUT" "$MANIFEST"; die "the ops were built but do not verify (above); removed $OUT (ssl3d runs the op-by-op forms without it)"; }
