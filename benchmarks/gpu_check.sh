#!/usr/bin/env bash
# The one prepared script for a GPU machine (an H200 lent to a task, or any CUDA box):
#   1. checks the environment (nvidia-smi, nvcc, torch sees the GPU) -- installs nothing
#      that would replace a CUDA torch (the pinned torch==2.13.0 of .ci/run is CPU-only);
#   2. pytest -m gpu (the GPU-marked tests of the whole suite);
#   3. benchmarks/cuda_bench.py (the shipped conv net in its weight-shared and flat forms,
#      the MNIST net from $DLGN_MNIST_MODEL, else a random 6x8000 net, and a 1M-gate net):
#      bit-exactness against the simulator and samples/s;
#   4. benchmarks/train_gpu_bench.py if it exists.
# Everything is written under $OUT when set (else ./gpu_check_out).  Each step has its own
# time limit ($T_TESTS, $T_BENCH, $T_TRAIN seconds) so one slow step cannot eat the rest.
# Usage: bash benchmarks/gpu_check.sh   (from anywhere; runs in the repository root)
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-$PWD/gpu_check_out}"
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export DLGN_CACHE_DIR="${DLGN_CACHE_DIR:-/tmp/dlgn-gpu-cache}"
PY="${PYTHON:-python3}"
T_TESTS="${T_TESTS:-150}" T_BENCH="${T_BENCH:-330}" T_TRAIN="${T_TRAIN:-100}"   # sum < 10 min
PIP=("$PY" -m pip install -q --retries 0 --timeout 5)   # offline machines fail fast
LOG="$OUT/gpu_check.log"
log() { echo "[gpu_check $(date +%H:%M:%S)] $*" | tee -a "$LOG"; }
status=0

# ---- 1. environment
{ nvidia-smi || echo "nvidia-smi failed"; } > "$OUT/env.txt" 2>&1
{ command -v nvcc && nvcc --version; } >> "$OUT/env.txt" 2>&1 || log "nvcc not on PATH"
if ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH="/usr/local/cuda/bin:$PATH"
fi
if ! "$PY" -c "import torch" 2>>"$LOG"; then
  # only when torch is absent: a plain install is the CUDA build (never the CPU pin of .ci/run)
  log "no torch for $PY; trying 'pip install torch'"
  "${PIP[@]}" torch >>"$LOG" 2>&1 || log "pip install torch failed (offline?)"
elif ! "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  log "WARNING: torch is installed but sees no GPU (a CPU build?); GPU steps will skip"
fi
"$PY" - >>"$OUT/env.txt" 2>&1 <<'EOF'
import importlib, torch
print("torch", torch.__version__, "cuda", torch.version.cuda, "gpu", torch.cuda.is_available(),
      torch.cuda.get_device_name() if torch.cuda.is_available() else "")
for m in ("numpy", "cffi", "networkx", "tqdm", "pytest", "hypothesis"):
    try:
        print(m, importlib.import_module(m).__version__)
    except Exception as e:  # noqa: BLE001
        print(m, "MISSING", e)
EOF
# dlgn's light dependencies, only if missing (never torch); cffi is optional (ctypes fallback)
for m in numpy networkx tqdm pytest hypothesis; do
  "$PY" -c "import $m" 2>/dev/null || "${PIP[@]}" "$m" >>"$LOG" 2>&1 || \
    log "could not install $m"
done
cat "$OUT/env.txt" | tee -a "$LOG" | tail -12

# ---- 2. GPU tests
log "pytest -m gpu"
timeout "$T_TESTS" "$PY" -m pytest -q -p no:cacheprovider -m gpu --continue-on-collection-errors \
  -rs tests 2>&1 | tee "$OUT/pytest_gpu.txt" | tail -25
rc=${PIPESTATUS[0]}; [ "$rc" = 0 ] || { log "pytest -m gpu: exit $rc"; status=1; }

# ---- 3. CUDA inference benchmark
log "cuda_bench.py"
MODEL_ARGS=()
if [ -z "${DLGN_MNIST_MODEL:-}" ]; then   # a trained MNIST model carried along, if any
  for f in mnist.pt mnist.dlgn.npz examples/mnist/*.dlgn.npz; do
    [ -f "$f" ] && { DLGN_MNIST_MODEL="$f"; break; }
  done
fi
[ -n "${DLGN_MNIST_MODEL:-}" ] && MODEL_ARGS=(--model "$DLGN_MNIST_MODEL")
# the shipped conv net, weight-shared and flat side by side
CONV_MODEL="${DLGN_CONV_MODEL:-examples/mnist_conv/mnist-conv-lsh.dlgn.npz}"
[ -f "$CONV_MODEL" ] && MODEL_ARGS+=(--conv "$CONV_MODEL")
log "MNIST net: ${DLGN_MNIST_MODEL:-none found, a random 800-6x8000-10 net stands in}"
timeout "$T_BENCH" "$PY" benchmarks/cuda_bench.py "${MODEL_ARGS[@]}" \
  --json "$OUT/cuda_bench.json" ${CUDA_BENCH_ARGS:---word-bits 32} 2>&1 | tee "$OUT/cuda_bench.txt"
rc=${PIPESTATUS[0]}; [ "$rc" = 0 ] || { log "cuda_bench.py: exit $rc"; status=1; }

# ---- 4. training benchmark (written by the Triton engineer), if present
if [ -f benchmarks/train_gpu_bench.py ]; then
  log "train_gpu_bench.py"
  timeout "$T_TRAIN" "$PY" benchmarks/train_gpu_bench.py 2>&1 | tee "$OUT/train_gpu_bench.txt"
  rc=${PIPESTATUS[0]}; [ "$rc" = 0 ] || { log "train_gpu_bench.py: exit $rc"; status=1; }
fi
log "done (status $status); results in $OUT"
exit $status
