#!/usr/bin/env bash
# GPU correctness and speed checks: the bench scripts with --device cuda, one JSON per section.
#
#   bash scripts/gpu_checks.sh RUN PROMPTS REFERENCE OUT_DIR
#
# RUN: a trained text- or class-conditional run (the demo's demo_output/run); PROMPTS: a prompt file for it;
# REFERENCE: an M-SDF store for the D-Flow section (the demo's demo_output/data/reference); OUT_DIR: where the JSON
# files and gpu_checks.log go. Needs a CUDA GPU and this package's dependencies except Open3D (no section renders or
# calls the Open3D-based fidelity metrics). Every section has its own time limit and a failed section does not stop
# the others; the log says which passed. ONLY="train visco" runs just those sections. The README's "GPU" table was
# measured with this script.
set -u
RUN=$1 PROMPTS=$2 REFERENCE=$3 OUT=$4
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 TQDM_DISABLE=1
cd "$(dirname "$0")/.."
LOG="$OUT/gpu_checks.log"
section() {  # section NAME SECONDS COMMAND...
  local name=$1 limit=$2; shift 2
  [[ -n "${ONLY:-}" && " $ONLY " != *" $name "* ]] && return
  local t0=$SECONDS
  echo "=== $name (limit ${limit}s)" | tee -a "$LOG"
  timeout "$limit" "$@" >>"$LOG" 2>&1
  local rc=$?
  echo "=== $name: rc=$rc in $((SECONDS - t0)) s" | tee -a "$LOG"
}
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; python3 -c "import torch, sys;
print('python', sys.version.split()[0], 'torch', torch.__version__, 'cuda', torch.cuda.is_available())"; } >>"$LOG" 2>&1
section keops 60 python3 -c "import pykeops; pykeops.test_torch_bindings()"
section evaluate 100 python3 bench/bench_evaluate.py --device cuda --clouds 48 --methods kdtree --repeats 2 \
  --out "$OUT/evaluate_gpu.json"
section train 150 python3 bench/bench_train.py --device cuda --presets cpu-small paper --small-steps 100 \
  --small-batch 64 --paper-steps 40 --paper-batch 32 --repeats 2 --ablation-steps 0 --out "$OUT/train_gpu.json"
section generate 80 python3 bench/bench_generate.py --device cuda --run "$RUN" -n 16 --no-render --repeats 3 \
  --out "$OUT/generate_gpu.json"
section solvers 130 python3 bench/bench_solvers.py --device cuda --run "$RUN" --prompts "$PROMPTS" \
  --nfes 4 6 8 12 16 --bns-nfes 8 --tol 1e-4 --train-pairs 512 --test-pairs 32 --iters 1000 --batch-size 32 \
  --lr 1e-2 --repeats 3 --chamfer --resolution 64 --out "$OUT/solvers_gpu.json"
section dflow 70 python3 bench/bench_dflow.py --device cuda --run "$RUN" --reference "$REFERENCE" --limit 8 \
  --out "$OUT/dflow_gpu.json"
section visco 90 python3 bench/bench_visco.py --device cuda --compare-cpu --sections gather pointsets \
  --shared tests/data --poisson-depths --resolution 256 --repeats 3 --out "$OUT/visco_gpu.json"
grep "^===" "$LOG"
