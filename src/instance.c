/* Instance numbers: programs of concurrently live contexts on PoCL differ.
 *
 * PoCL's CPU drivers (3.1 here; 5.0 too, by another project's report) keep one
 * process-wide cache of loaded kernel binaries, keyed by the program's build
 * hash. A launch takes the first entry whose hash, local size, grid width
 * and offsets fit, but a finished launch gives back the first entry with the
 * same hash and local size, which need not be the one it took. Two contexts
 * running one kernel at once with different grid widths then corrupt the
 * reference counts and PoCL aborts ("pocl_release_dlhandle_cache: Assertion
 * `found->ref_count > 0'") or unloads a binary in use. Without what follows,
 * test_threads' growing launches (four threads, each filling buffers through
 * its own context) abort in 10 of 10 runs.
 *
 * The hash covers the source, so each live context on a PoCL platform takes
 * the lowest free instance number, and the programs of instance n > 0 start
 * with `#define CLT_INSTANCE n`. Instance 0 builds exactly what a lone
 * context always built; a second live context builds (and caches, under its
 * own key) a copy of its own once per number. clt_context_destroy finishes
 * the queue before giving the number back, so no launch of the old context
 * is left to share it. */
#include "internal.h"

#include <pthread.h>
#include <string.h>

#define MAX_INSTANCES 64

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static bool taken[MAX_INSTANCES];

static bool is_pocl(clt_context_t ctx)
{
    return strstr(ctx->info.platform_name, "Portable Computing Language") != NULL;
}

void clt__instance_take(clt_context_t ctx)
{
    ctx->instance = 0;
    ctx->instance_held = false;
    if (!is_pocl(ctx))
        return;
    pthread_mutex_lock(&lock);
    int n = 0;
    while (n < MAX_INSTANCES && taken[n])
        n++;
    if (n < MAX_INSTANCES)
        taken[n] = ctx->instance_held = true;
    pthread_mutex_unlock(&lock);
    /* past 64 live contexts the last number is shared (and never held) */
    ctx->instance = n < MAX_INSTANCES ? n : MAX_INSTANCES - 1;
}

void clt__instance_give(clt_context_t ctx)
{
    if (!ctx->instance_held)
        return;
    pthread_mutex_lock(&lock);
    taken[ctx->instance] = false;
    pthread_mutex_unlock(&lock);
    ctx->instance_held = false;
}
