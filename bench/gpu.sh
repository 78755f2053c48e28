#!/usr/bin/env bash
# The GPU figures in one run (docs/benchmarks.md, "On a GPU"): on a machine with CUDA
# and PyTorch, whose Python lacks the project's other packages, which it installs from
# wheels in .whl/ when that folder is there (no network needed):
#
#   bash bench/gpu.sh [OUT]        # tables and test log written under OUT (default: var/gpu)
#
# GPU_SKIP names steps to leave out ("photo_models prelabel"), for a run that checks the
# tests on CUDA without timing the figures again.
# Each step has its own time limit, so one that hangs costs only its share; the whole
# run stops starting steps after GPU_BUDGET seconds (540, within one device call's 600).
set -u
out=${1:-${OUT:-var/gpu}}
mkdir -p "$out"
python=${PYTHON:-python3}
if [ -d .whl ]; then
    "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/labeler-site .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/labeler-site
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export LABELER_TORCH_THREADS=${LABELER_TORCH_THREADS:-4}
status=0
budget=${GPU_BUDGET:-540}  # seconds for the whole run: a step that may not fit is skipped
step() {  # step NAME SECONDS COMMAND...: the command's output in OUT/NAME.txt
    local name=$1 seconds=$2
    shift 2
    case " ${GPU_SKIP:-} " in *" $name "*) echo "== $name: skipped (GPU_SKIP)"; return;; esac
    if [ $((SECONDS + seconds)) -gt "$budget" ]; then
        echo "== $name: skipped (${SECONDS} s spent of a ${budget} s budget)"
        return
    fi
    echo "== $name: $*"
    local started=$SECONDS
    timeout "$seconds" "$@" >"$out/$name.txt" 2>&1
    local rc=$?
    echo "   exit $rc after $((SECONDS - started)) s"
    tail -n 40 "$out/$name.txt"
    [ "$rc" -eq 0 ] || status=1
}
{
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv
    "$python" -c 'import torch, torchvision; print("torch", torch.__version__, "torchvision", torchvision.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(0))'
    git rev-parse HEAD 2>/dev/null || echo "commit: $(cat .commit 2>/dev/null)"
    nproc
} >"$out/device.txt" 2>&1
cat "$out/device.txt"
# Every test that is skipped without CUDA first, then the rest of the model code's tests
# on CUDA, then the figures (on an H100 the tests take about 330 s of the 540: GPU_SKIP
# picks the benchmarks that a run has time for).
step tests_cuda 120 "$python" -m pytest -q -p no:cacheprovider tests/worker/ml -k cuda \
    -o addopts="-ra --tb=short"
# The worker's jobs through the database on CUDA: trainings with their held-out test
# images scored and compared, pre-labelling, the label check's folds.
step tests_worker 240 "$python" -m pytest -q -p no:cacheprovider tests/worker \
    --ignore=tests/worker/ml -o addopts="-ra --tb=short"
step tests_worker_ml 180 "$python" -m pytest -q -p no:cacheprovider tests/worker/ml \
    -k "not cuda" -o addopts="-ra --tb=short"
step photo_models 150 "$python" bench/photo_models.py --device cuda
step prelabel 180 "$python" bench/prelabel.py --device cuda --processes 1 --images 2048 \
    --models small-cnn resnet18 --sizes 640x480
step training 60 "$python" bench/training.py --device cuda
exit $status
