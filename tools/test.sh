#!/bin/sh
# Builds clt and runs the whole test suite on the default OpenCL device.
#   tools/test.sh [build-dir] [extra cmake arguments...]
# e.g. tools/test.sh build-asan -DCLT_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
set -eu
cd "$(dirname "$0")/.."
tools/install-deps.sh
dir=${1:-build}
[ $# -gt 0 ] && shift
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$dir" -j"$(nproc)"
cd "$dir"
ctest --output-on-failure --no-tests=error -j"$(nproc)"
