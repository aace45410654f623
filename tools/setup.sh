#!/bin/sh
# One command from a fresh Debian 12 machine to clt's main job: installs
# what is missing, builds into ./build, then runs `cltool bench` on the
# default device (CLT_DEVICE or --device picks another). Arguments go to bench.
set -eu
cd "$(dirname "$0")/.."
tools/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
build/tools/cltool devices && exec build/tools/cltool bench "$@"
