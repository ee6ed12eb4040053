#!/usr/bin/env bash
# One short GPU check, in one call: the CuPy half of the tests, the two benchmarks on CuPy, and
# the quick profile on CuPy, timed. Each step has its own time limit so that one slow step
# cannot eat the others'; logs go to $OUT (default gpu_check/).
#
#   NPRELU_DATA=/path/to/mnist OUT=/tmp/gpu bash benchmarks/gpu_check.sh
set -u
OUT=${OUT:-gpu_check}
mkdir -p "$OUT"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} MPLBACKEND=Agg PYTHONUNBUFFERED=1
step() {  # step NAME SECONDS COMMAND...: run it under a limit, log to $OUT/NAME.log, time it
    local name=$1 limit=$2; shift 2
    local t0=$SECONDS
    timeout "$limit" "$@" >"$OUT/$name.log" 2>&1
    echo "== $name: exit $?, $((SECONDS - t0)) s"
    tail -n 4 "$OUT/$name.log"
}
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  python3 -c "import numpy, cupy; print('numpy', numpy.__version__, 'cupy', cupy.__version__)"
} | tee "$OUT/machine.txt"
step tests 150 python3 -m pytest -q -p no:cacheprovider -k cupy tests
step bench_train 60 python3 benchmarks/bench_train.py --backend cupy --epochs 3 --no-torch
step bench_attacks 90 python3 benchmarks/bench_attacks.py --backend cupy --cw-samples 0 --repeats 3 --no-torch
step quick 240 python3 run_all.py --profile quick --backend cupy --out /tmp/nprelu_quick_gpu
cp /tmp/nprelu_quick_gpu/summary.json "$OUT/quick_summary.json" 2>/dev/null || true
