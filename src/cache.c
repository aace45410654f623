/* On-disk cache of built program binaries.
 *
 * An entry is <dir>/<program>-<keyhash>.bin holding a header (magic, format
 * version, key hash, payload size, payload hash) and the binary. Anything
 * that does not verify (truncated, corrupt, written for another key) is
 * ignored and rebuilt. Writes go to a unique temporary name and are renamed
 * into place, so readers never see half an entry and concurrent writers of
 * the same entry are harmless. */
#define _POSIX_C_SOURCE 200809L
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define MAGIC "CLTBIN\r\n"
#define FORMAT_VERSION 1u
#define MAX_ENTRY_BYTES (256u << 20)

typedef struct entry_header {
    char magic[8];
    uint32_t version;
    uint32_t reserved;
    char key[32];
    uint64_t size;
    char payload_hash[32];
} entry_header;

static uint64_t fnv1a(const unsigned char *p, size_t n, uint64_t h)
{
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

void clt__hash_hex(const void *data, size_t size, char out[33])
{
    const unsigned char *p = data;
    uint64_t a = mix(fnv1a(p, size, 0xcbf29ce484222325ull) ^ size);
    uint64_t b = mix(fnv1a(p, size, 0x84222325cbf29ce4ull) + 0x9e3779b97f4a7c15ull * size);
    snprintf(out, 33, "%016llx%016llx", (unsigned long long)a, (unsigned long long)b);
}

static bool env_says_off(const char *v)
{
    return v && (!strcmp(v, "off") || !strcmp(v, "OFF") || !strcmp(v, "0") || !strcmp(v, "no") ||
                 !strcmp(v, "false"));
}

clt_status clt__cache_dir_resolve(const clt_context_options *opt, char *out, size_t cap,
                                  bool *enabled)
{
    out[0] = '\0';
    *enabled = false;
    if (opt->cache == CLT_CACHE_OFF ||
        (opt->cache == CLT_CACHE_DEFAULT && env_says_off(getenv("CLT_CACHE"))))
        return CLT_STATUS_SUCCESS;
    const char *dir = opt->cache_dir;
    const char *env = getenv("CLT_CACHE_DIR");
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    int n;
    if (dir && *dir)
        n = snprintf(out, cap, "%s", dir);
    else if (env && *env)
        n = snprintf(out, cap, "%s", env);
    else if (xdg && *xdg)
        n = snprintf(out, cap, "%s/clt", xdg);
    else if (home && *home)
        n = snprintf(out, cap, "%s/.cache/clt", home);
    else
        return CLT_STATUS_SUCCESS; /* nowhere to cache: run without */
    if (n < 0 || (size_t)n >= cap)
        return clt__fail(NULL, CLT_STATUS_INVALID_VALUE,
                         "cache directory path is too long (%d bytes; at most %zu)", n, cap - 1);
    *enabled = true;
    return CLT_STATUS_SUCCESS;
}

static void entry_path(clt_context_t ctx, const char *key, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s.bin", ctx->cache_dir, key);
}

unsigned char *clt__cache_load(clt_context_t ctx, const char *key, size_t *size)
{
    char path[1200];
    entry_path(ctx, key, path, sizeof path);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    entry_header h;
    unsigned char *bin = NULL;
    char hash[33];
    bool ok = fread(&h, sizeof h, 1, f) == 1 && !memcmp(h.magic, MAGIC, 8) &&
              h.version == FORMAT_VERSION && h.size > 0 && h.size <= MAX_ENTRY_BYTES;
    const char *keyhash = strrchr(key, '-') ? strrchr(key, '-') + 1 : key;
    ok = ok && strlen(keyhash) == 32 && !memcmp(h.key, keyhash, 32);
    if (ok && (bin = malloc((size_t)h.size + 1)) != NULL) {
        /* exactly h.size bytes must follow, no more; a short read leaves
         * part of bin unset, so it is not hashed */
        ok = fread(bin, 1, (size_t)h.size + 1, f) == (size_t)h.size;
        if (ok)
            clt__hash_hex(bin, (size_t)h.size, hash);
        ok = ok && !memcmp(hash, h.payload_hash, 32);
    }
    fclose(f);
    if (!ok || !bin) {
        clt__log(ctx, CLT_LOG_WARN, "cache entry %s does not verify; rebuilding", path);
        free(bin);
        return NULL;
    }
    *size = (size_t)h.size;
    return bin;
}

/* strerror may share one buffer between threads; contexts store entries
 * from whichever threads use them. */
const char *clt__errno_text(int err, char *buf, size_t cap)
{
    if (strerror_r(err, buf, cap) != 0)
        snprintf(buf, cap, "error %d", err);
    return buf;
}

static int mkdir_p(const char *dir)
{
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", dir);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return (mkdir(tmp, 0755) != 0 && errno != EEXIST) ? -1 : 0;
}

int clt__cache_mkdir(clt_context_t ctx)
{
    if (mkdir_p(ctx->cache_dir) == 0)
        return 0;
    char err[128];
    clt__log(ctx, CLT_LOG_WARN, "cannot create cache directory %s: %s", ctx->cache_dir,
             clt__errno_text(errno, err, sizeof err));
    return -1;
}

void clt__cache_store(clt_context_t ctx, const char *key, const unsigned char *bin, size_t size)
{
    if (size == 0 || size > MAX_ENTRY_BYTES || clt__cache_mkdir(ctx) != 0)
        return;
    entry_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, MAGIC, 8);
    h.version = FORMAT_VERSION;
    const char *keyhash = strrchr(key, '-') ? strrchr(key, '-') + 1 : key;
    memcpy(h.key, keyhash, 32);
    h.size = size;
    char hash[33];
    clt__hash_hex(bin, size, hash);
    memcpy(h.payload_hash, hash, 32);

    char path[1200], tmp[1300];
    entry_path(ctx, key, path, sizeof path);
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld.%ld.%p", path, (long)getpid(), (long)ts.tv_nsec,
             (void *)ctx);
    FILE *f = fopen(tmp, "wb");
    bool ok = f && fwrite(&h, sizeof h, 1, f) == 1 && fwrite(bin, 1, size, f) == size;
    if (f && fclose(f) != 0)
        ok = false;
    if (!ok || rename(tmp, path) != 0) {
        char err[128];
        clt__log(ctx, CLT_LOG_WARN, "cannot write cache entry %s: %s", path,
                 clt__errno_text(errno, err, sizeof err));
        remove(tmp);
    }
}
