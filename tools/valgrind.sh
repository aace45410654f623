#!/bin/sh
# Runs test suites of a built tree under valgrind's memcheck: any invalid
# access, use of an uninitialised value or definite leak fails the run.
# tests/valgrind.supp holds the few reports from outside clt (each entry
# says why).
#   tools/valgrind.sh [build-dir] [suite[:cmocka-test-pattern]...]
# Run the suite normally first (tools/test.sh): under valgrind a kernel build
# through PoCL's LLVM takes a minute, so the clt binary cache of the build
# tree ($build/test-cache, the one ctest uses) and PoCL's own kernel cache
# must be warm (on a host with AVX-512 the script builds valgrind's own
# kernels first, see below: ten more minutes on 2 cores). The default is
# every suite but test_threads (valgrind runs one thread at a time;
# ThreadSanitizer covers it) and, of test_cache, only the damaged-entries
# case (its other cases rebuild every program on
# purpose: six minutes under valgrind); the fuzz suite runs fewer sets, and
# suites that read CLT_TEST_QUICK fewer cases.
set -eu
cd "$(dirname "$0")/.."
build=${1:-build}
[ $# -gt 0 ] && shift
suites=${*:-"test_status test_context test_cache:test_bad_entries_are_rebuilt test_gemm \
test_gemm_batch test_conv test_conv_backward test_pool test_nn test_nn_loss test_find test_npy \
test_gpu_paths test_errors test_fuzz"}
export CLT_CACHE_DIR="$PWD/$build/test-cache"
export CLT_TEST_TMP="$PWD/$build/test-tmp"
export CLT_FUZZ_ITERS="${CLT_FUZZ_ITERS:-10000}"
export CLT_FUZZ_RUNS="${CLT_FUZZ_RUNS:-30}"
export CLT_TEST_QUICK=1

# Valgrind's CPU has no AVX-512: on a host that has it, PoCL names (and
# compiles for) another device under valgrind than natively, with other
# vector widths, so clt's kernels differ too: the warm caches do not serve
# and PoCL's compiler would run under memcheck (its leaks reported, minutes
# a suite). The suites then run once under --tool=none first, which sees the
# same CPU at a fraction of the cost, as many at a time as there are cores.
cpu_of() { "$@" "$build/tools/cltool" devices 2>/dev/null | head -1; }
if [ "$(cpu_of)" != "$(cpu_of valgrind --tool=none --quiet)" ]; then
    echo "valgrind: the device differs under valgrind; building its kernels first"
    start=$(date +%s)
    printf '%s\n' $suites | xargs -P "$(nproc)" -I{} sh -c '
        name=${1%%:*} filter=${1#"${1%%:*}"}
        CLT_TEST_FILTER="${filter#:}" valgrind --tool=none --quiet "$2/tests/$name" \
            >"$2/valgrind-warm-$name.log" 2>&1 ||
            echo "valgrind: warming $1 failed; log: $2/valgrind-warm-$name.log" >&2' sh {} "$build"
    echo "valgrind: kernels built ($(($(date +%s) - start)) s)"
fi

status=0
for t in $suites; do
    name=${t%%:*}
    filter=${t#"$name"}
    filter=${filter#:}
    start=$(date +%s)
    if CLT_TEST_FILTER="$filter" valgrind --leak-check=full --errors-for-leak-kinds=definite \
        --error-exitcode=1 --suppressions=tests/valgrind.supp --quiet "$build/tests/$name" \
        >"$build/valgrind-$name.log" 2>&1; then
        echo "valgrind: $t clean ($(($(date +%s) - start)) s)"
    else
        echo "valgrind: $t FAILED ($(($(date +%s) - start)) s); log: $build/valgrind-$name.log" >&2
        status=1
    fi
done
exit $status
