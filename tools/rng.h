/* A small seeded generator (splitmix64) for initialisation and shuffling:
 * the same seed gives the same numbers on every machine. */
#ifndef CLTOOL_RNG_H
#define CLTOOL_RNG_H

#include <stdint.h>

static inline uint64_t rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1), 24 random bits (exact in float). */
static inline float rng_uniform(uint64_t *state)
{
    return (float)(rng_next(state) >> 40) * (1.0f / 16777216.0f);
}

/* Uniform integer in [0, n), n >= 1, without modulo bias (rejection). */
static inline uint32_t rng_below(uint64_t *state, uint32_t n)
{
    uint32_t limit = (uint32_t)(-n) % n; /* 2^32 mod n */
    for (;;) {
        uint32_t r = (uint32_t)(rng_next(state) >> 32);
        if (r >= limit)
            return r % n;
    }
}

#endif
