#!/usr/bin/env bash
# The GPU machine's checks in one pass (see ../shared/device/README.md): the
# whole test suite on the GPU, the resnet50 bench (forward and both backward
# passes, N=32) beside cuDNN, and a Fashion-MNIST training run. Run there as
#   source .device/env.sh && tools/device_check.sh BUILD_DIR OUT_DIR
# after ../shared/device/prepare; for training, copy the four idx .gz files
# into .device/fmnist. Each step has its own time limit so one hang costs
# only that step; logs go to OUT_DIR (and, after every step, into the
# tarball CHECK_TAR when that is set: the device tool returns few files).
set -u
build=${1:?build dir}
out=${2:?output dir}
mkdir -p "$out"
cltool="$build/tools/cltool"
step() { # name limit_s command...
    local name=$1 limit=$2
    shift 2
    local t0=$SECONDS
    timeout "$limit" "$@" >"$out/$name.log" 2>&1
    echo "== $name: rc=$? $((SECONDS - t0)) s" | tee -a "$out/summary.txt"
    [ -z "${CHECK_TAR:-}" ] || tar czf "$CHECK_TAR" -C "$out" . 2>/dev/null
}
export CLT_DEVICE=${CLT_DEVICE:-gpu}
nvidia-smi -L >"$out/summary.txt" 2>&1
step devices 30 "$cltool" devices
step bench_fwd 120 "$cltool" bench --preset resnet50 -n 32 --min-time 0.1 --max-runs 20
step cudnn 60 python3 .device/cudnn_anchor.py 32
for op in conv-bwd-data conv-bwd-weights; do
    step "bench_$op" 80 "$cltool" bench --preset resnet50 -n 32 --op "$op" \
        --min-time 0.1 --max-runs 20 --skip-load-times
done
# Neither is timed against a peer, so they share the GPU.
if [ -d .device/fmnist ]; then
    step train 150 "$cltool" train --data .device/fmnist --epochs 5 --plot "$out/train.svg" &
fi
step ctest 150 ctest --test-dir "$build" -j3 --timeout 140 --output-on-failure
wait
tail -n 4 "$out"/*.log >>"$out/summary.txt"
cat "$out/summary.txt"
[ -z "${CHECK_TAR:-}" ] || tar czf "$CHECK_TAR" -C "$out" .
