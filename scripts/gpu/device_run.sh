#!/usr/bin/env bash
# The device run: ssl3d on TF.js's webgpu backend (Dawn → Vulkan → the GPU) and MONAI/PyTorch on cuda, same
# networks and configs, on a GPU machine with no Node.js and no network. Needs .gpu/ (bash scripts/gpu/pack.sh).
#
#   bash scripts/gpu/device_run.sh            (from the repo root; carry [".gpu"]; ~4–8 min)
#
# Steps (each with its own time limit; the whole run stays inside BUDGET_S):
#   1. nvidia-smi; unpack .gpu/ssl3d-gpu.tar.xz into /tmp/ssl3d-gpu (node + app)
#   2. Vulkan: the loader from .gpu/libvulkan1_*.deb when libvulkan.so.1 is missing; VK_DRIVER_FILES = NVIDIA's ICD
#   3. the WebGPU adapter Dawn finds (scripts/gpu/adapter.mjs)
#   4. op check on webgpu (scripts/gpu/opcheck.mjs): conv3d fwd + both grads, the op layer, matmuls, reductions,
#      tiny networks; against PyTorch fixtures, cpu and wasm
#   4a. the main job (`ssl3d demo`, a few steps) on webgpu (SKIP_DEMO=1 skips it; DEMO_STEPS, default 4)
#   4b. A/B of the 3³ filter gradient on webgpu (AB_MODES: stock splitk decomp): op check + full UNETR train each
#   5. MONAI on cuda (bench/monai_models.py, all configs in one process; MONAI from .gpu/monai-*.whl if missing)
#   6. ssl3d on webgpu (bench/models.mjs --backends webgpu), per-measurement timeouts, stops at the deadline
#   7. summary table (scripts/gpu/summarize.py)
# Results: $OUT/gpu_results.jsonl (every JSON line), $OUT/gpu_log.txt (this output), $OUT/ssl3d_webgpu.json,
# $OUT/ab_<mode>.json.
#
# Env: OUT (default /tmp/gpu_out), BUDGET_S (540), CONFIGS (tiny32,full,tiny48), REPEATS (3), REPEATS_FULL (2),
#      MONAI_REPEATS (5), MONAI_DEVICE (cuda; cpu for a dry run), SKIP_MONAI=1, SKIP_OPCHECK=1, SKIP_AB=1, AB_MODES,
#      OPCHECK_ARGS (--large --nets), TIMEOUT_S (45, per tiny measurement), TIMEOUT_FULL_S (60),
#      VK_DRIVER_FILES (kept when it names a file), SSL3D_DAWN_OPTIONS.
set -uo pipefail
START=$(date +%s)
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
OUT=${OUT:-/tmp/gpu_out}
mkdir -p "$OUT"
LOG=$OUT/gpu_log.txt
JSONL=$OUT/gpu_results.jsonl
: >"$JSONL"
exec > >(tee -a "$LOG") 2>&1
TEE_PID=$!
# On exit, close the pipe to tee and wait for it, so the last lines (the summary) reach stdout and the log.
trap 'exec 1>&- 2>&-; wait "$TEE_PID" 2>/dev/null' EXIT
BUDGET_S=${BUDGET_S:-540}
CONFIGS=${CONFIGS:-tiny32,full,tiny48} # full before tiny48: if time runs out, tiny48 is what is lost
el() { echo $(($(date +%s) - START)); }
left() { echo $((BUDGET_S - $(el))); }
step() { echo; echo "=== [$(el) s] $*"; }
rec() { echo "$1" >>"$JSONL"; }
# min(cap, time left - reserve), at least 1
lim() { local l=$(($(left) - ${2:-0})); [ "$l" -lt "$1" ] && echo $((l > 1 ? l : 1)) || echo "$1"; }

step "GPU"
SMI=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -1)
nvidia-smi 2>&1 | head -20
rec "{\"step\":\"gpu\",\"nvidia_smi\":\"${SMI//\"/}\",\"host\":\"$(uname -srm)\",\"cpus\":$(nproc)}"

step "unpack .gpu/ssl3d-gpu.tar.xz"
W=/tmp/ssl3d-gpu
rm -rf "$W" && mkdir -p "$W"
if command -v xz >/dev/null; then xz -dc .gpu/ssl3d-gpu.tar.xz | tar -C "$W" -xf -; else
  python3 -c "import tarfile, sys; tarfile.open('.gpu/ssl3d-gpu.tar.xz').extractall(sys.argv[1])" "$W"; fi
if [ ! -x "$W/app/node" ]; then
  echo "unpack failed (was .gpu carried? bash scripts/gpu/pack.sh builds it)"; rec '{"step":"unpack","ok":false}'; exit 1
fi
APP=$W/app
NODE=$APP/node
cp bench/*.mjs bench/*.py "$APP/bench/" # the bench scripts of this checkout (dist/ is the packed one)
echo "node $("$NODE" --version); $(cat "$APP/PACKED.json")"
rec "{\"step\":\"unpack\",\"ok\":true,\"s\":$(el),\"packed\":$(cat "$APP/PACKED.json")}"

step "Vulkan"
# The Vulkan loader and libglvnd: without libglvnd, NVIDIA's ICD (libGLX_nvidia.so.0) loads but the loader cannot get
# vkCreateInstance from it ("Found no drivers", seen on the H200 machine on 2026-11-26).
echo "unpacking $(ls .gpu/*.deb | xargs -n1 basename | tr '\n' ' ')"
for f in .gpu/*.deb; do dpkg -x "$f" /; done
ldconfig
f=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
[ -f "$f" ] && export __EGL_VENDOR_LIBRARY_FILENAMES=${__EGL_VENDOR_LIBRARY_FILENAMES:-$f}
ldconfig -p | grep libvulkan || echo "still no libvulkan.so.1"
if [ -z "${VK_DRIVER_FILES:-}" ] || [ ! -f "$VK_DRIVER_FILES" ]; then
  unset VK_DRIVER_FILES
  for f in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json \
    /etc/vulkan/icd.d/nvidia_icd.json /usr/local/share/vulkan/icd.d/nvidia_icd.json; do
    [ -f "$f" ] && { export VK_DRIVER_FILES=$f; break; }
  done
  if [ -z "${VK_DRIVER_FILES:-}" ]; then
    f=$(find /usr /etc /opt -maxdepth 6 -name 'nvidia_icd*.json' 2>/dev/null | head -1)
    [ -n "$f" ] && export VK_DRIVER_FILES=$f
  fi
fi
echo "VK_DRIVER_FILES=${VK_DRIVER_FILES:-<none found>}"
[ -n "${VK_DRIVER_FILES:-}" ] && cat "$VK_DRIVER_FILES"
for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do [ -d "$d" ] && export LD_LIBRARY_PATH=$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}; done
ldconfig -p | grep -E 'libGLX_nvidia|libnvidia-glvkspirv' | head -3
ls /usr/local/nvidia/lib64 2>/dev/null | grep -E 'GLX_nvidia|glvkspirv|nvidia-gpucomp' | head -5
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
rec "{\"step\":\"vulkan\",\"VK_DRIVER_FILES\":\"${VK_DRIVER_FILES:-}\"}"

step "WebGPU adapter (Dawn)"
ADAPTER=$(timeout 60 "$NODE" scripts/gpu/adapter.mjs --app "$APP" 2>"$W/adapter.err")
arc=$?
echo "$ADAPTER"
grep -v '^\s*$' "$W/adapter.err" | head -15
if [ -n "$ADAPTER" ]; then rec "$ADAPTER"; else rec "{\"step\":\"adapter\",\"adapter\":null,\"rc\":$arc}"; fi
WEBGPU_OK=$([ "$arc" = 0 ] && echo 1 || echo 0)
if [ "$WEBGPU_OK" != 1 ]; then
  echo "!! Dawn found no adapter: the webgpu steps are skipped. The Vulkan loader's view:"
  ls -la /usr/share/vulkan/icd.d /etc/vulkan/icd.d /usr/local/nvidia/share/vulkan/icd.d 2>&1 | head -20
  VK_LOADER_DEBUG=error,warn timeout 60 "$NODE" scripts/gpu/adapter.mjs --app "$APP" 2>&1 | grep -v '^\s*$' | tail -20
fi

if [ "$WEBGPU_OK" = 1 ] && [ -z "${SKIP_OPCHECK:-}" ]; then
  t=$(lim 100 200)
  step "op check on webgpu (limit ${t} s)"
  # shellcheck disable=SC2086
  timeout -s KILL "$t" "$NODE" scripts/gpu/opcheck.mjs --app "$APP" ${OPCHECK_ARGS:---large --nets} --jsonl "$JSONL" 2>"$W/opcheck.err" |
    cut -c1-300
  rc=${PIPESTATUS[0]}
  [ "$rc" = 0 ] || { echo "!! op check stopped (exit $rc; 137 = time limit)"; grep -v 'artificially reduced\|^\s*$' "$W/opcheck.err" | tail -15; }
fi

# The whole main job on webgpu (phantoms → pretraining → fine-tuning random vs pretrained → table and reports), a few
# steps each: the training loops read only asynchronously (test/train/async_reads.test.ts), which webgpu needs.
if [ "$WEBGPU_OK" = 1 ] && [ -z "${SKIP_DEMO:-}" ]; then
  t=$(lim 150 240)
  step "ssl3d demo on webgpu, a few steps (limit ${t} s)"
  d0=$(date +%s)
  SSL3D_BACKEND=webgpu timeout -s KILL "$t" "$NODE" "$APP/bin/ssl3d.js" demo --out "$W/demo" --labeled 3 --unlabeled 2 \
    --pretrain-steps ${DEMO_STEPS:-4} --finetune-steps ${DEMO_STEPS:-4} --quiet 2>&1 | grep -v 'artificially reduced\|^\s*$' | tail -25
  rc=${PIPESTATUS[0]}
  rec "{\"step\":\"demo\",\"backend\":\"webgpu\",\"rc\":$rc,\"s\":$(($(date +%s) - d0))}"
  [ "$rc" = 0 ] || echo "!! demo on webgpu stopped (exit $rc; 137 = time limit)"
fi

# A/B of the 3³ filter gradient on webgpu (src/nn/ops/conv3d.ts, SSL3D_WEBGPU_CONV_DW; the default, batched, runs in
# the op check above and the benchmark below): for each other route, the op layer's 3³ cases against PyTorch and
# UNETR's full-config training step. decomp = SSL3D_NATIVE_CONV=0: the whole convolution as matmuls (wasm's route).
if [ "$WEBGPU_OK" = 1 ] && [ -z "${SKIP_AB:-}" ]; then
  for mode in ${AB_MODES:-stock splitk decomp}; do
    t=$(lim 70 150)
    step "A/B conv dw=$mode: op check + full UNETR train (limit ${t} s)"
    if [ "$mode" = decomp ]; then envs="SSL3D_NATIVE_CONV=0"; else envs="SSL3D_WEBGPU_CONV_DW=$mode"; fi
    # shellcheck disable=SC2086
    env $envs timeout -s KILL 40 "$NODE" scripts/gpu/opcheck.mjs --app "$APP" --large --only ops.conv3 --jsonl "$JSONL" 2>/dev/null | cut -c1-300
    # shellcheck disable=SC2086
    env $envs timeout -s KILL "$t" "$NODE" "$APP/bench/models.mjs" --configs full --nets unetr --phases train --backends webgpu \
      --skip-monai --batch 2 --repeats 2 --repeats-full 2 --warmup 1 --timeout-full-s $((t - 5)) --no-tf-peak \
      --json "$OUT/ab_$mode.json" 2>&1 | grep '^| full\|failed'
    python3 -c "import json,sys; r=json.load(open(sys.argv[1]))['rows'][0]; print(json.dumps({'step':'ab','conv_dw':sys.argv[2],'config':r['config'],'net':r['net'],'phase':r['phase'],'result':r['ssl3d']}))" \
      "$OUT/ab_$mode.json" "$mode" >>"$JSONL" 2>/dev/null || echo "!! no A/B result for $mode"
  done
fi

if [ -z "${SKIP_MONAI:-}" ]; then
  t=$(lim 120 120)
  step "MONAI on ${MONAI_DEVICE:-cuda} (limit ${t} s)"
  if ! python3 -c 'import monai' 2>/dev/null; then
    python3 -m pip install -q --no-index --no-deps --target /tmp/site .gpu/monai-*.whl && export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
  fi
  python3 -c 'import torch, monai; print("torch", torch.__version__, "cuda", torch.cuda.is_available(), "monai", monai.__version__)'
  JOBS=$("$NODE" "$APP/bench/models.mjs" --print-jobs --configs "$CONFIGS" --batch 2 --repeats "${MONAI_REPEATS:-5}" \
    --repeats-full "${MONAI_REPEATS:-5}" --warmup 2 --monai-device "${MONAI_DEVICE:-cuda}")
  PYTHONUNBUFFERED=1 timeout -s KILL "$t" python3 bench/monai_models.py "$JOBS" 2>"$W/monai.err" | while IFS= read -r l; do
    case "$l" in "{"*) rec "{\"step\":\"monai\",${l#\{}"; echo "$l" | cut -c1-260 ;; *) echo "$l" ;; esac
  done
  rc=${PIPESTATUS[0]}
  [ "$rc" = 0 ] || { echo "!! MONAI stopped (exit $rc; 137 = time limit)"; tail -5 "$W/monai.err"; }
fi

if [ "$WEBGPU_OK" = 1 ]; then
  d=$(($(left) - 15))
  step "ssl3d on webgpu: $CONFIGS (deadline ${d} s from now)"
  if [ "$d" -gt 10 ]; then
    timeout -s KILL $((d + 10)) "$NODE" "$APP/bench/models.mjs" --configs "$CONFIGS" --nets vitautoenc,unetr --phases forward,train \
      --backends webgpu --skip-monai --batch 2 --repeats "${REPEATS:-3}" --repeats-full "${REPEATS_FULL:-2}" --warmup 1 \
      --timeout-s "${TIMEOUT_S:-45}" --timeout-full-s "${TIMEOUT_FULL_S:-60}" --deadline-s "$d" --no-tf-peak \
      --json "$OUT/ssl3d_webgpu.json" 2>&1 | grep -v 'artificially reduced\|^ - While\|^\s*$'
  fi
fi

step "summary"
python3 scripts/gpu/summarize.py "$JSONL" "$OUT/ssl3d_webgpu.json"
echo
echo "done in $(el) s; results in $OUT: $(ls "$OUT" | tr '\n' ' ')"
