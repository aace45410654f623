#!/bin/sh
# Installs a built tree into a scratch prefix, then builds and runs a tiny
# outside project against it, once through CMake's find_package(clt) and
# once through pkg-config.
#   tools/check-install.sh [build-dir]
set -eu
cd "$(dirname "$0")/.."
build=${1:-build}
prefix="$PWD/$build/install-check"
rm -rf "$prefix"
cmake --install "$build" --prefix "$prefix" >/dev/null
consumer="$PWD/$build/consumer"
cmake -S tests/consumer -B "$consumer" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$consumer" >/dev/null
LD_LIBRARY_PATH="$prefix/lib:${LD_LIBRARY_PATH:-}" "$consumer/consumer"
libdir=$(find "$prefix" -name clt.pc -printf '%h\n' | head -1)
cc tests/consumer/main.c -o "$consumer/consumer-pc" \
   $(PKG_CONFIG_PATH="$libdir" pkg-config --cflags --libs clt) -Wl,-rpath,"$prefix/lib"
"$consumer/consumer-pc"
test -x "$prefix/bin/cltool" && "$prefix/bin/cltool" --version
