#include "niah/pyrandom.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- MT19937 (the reference mt19937ar.c that CPython embeds) ---------- */

static void init_genrand(struct pyrandom *r, uint32_t s)
{
    r->mt[0] = s;
    for (int i = 1; i < 624; i++) r->mt[i] = 1812433253u * (r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) + (uint32_t)i;
    r->index = 624;
}

static void init_by_array(struct pyrandom *r, const uint32_t *key, int len)
{
    init_genrand(r, 19650218u);
    int i = 1, j = 0;
    for (int k = 624 > len ? 624 : len; k; k--) {
        r->mt[i] = (r->mt[i] ^ ((r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) * 1664525u)) + key[j] + (uint32_t)j;
        i++, j++;
        if (i >= 624) r->mt[0] = r->mt[623], i = 1;
        if (j >= len) j = 0;
    }
    for (int k = 623; k; k--) {
        r->mt[i] = (r->mt[i] ^ ((r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) * 1566083941u)) - (uint32_t)i;
        i++;
        if (i >= 624) r->mt[0] = r->mt[623], i = 1;
    }
    r->mt[0] = 0x80000000u;
}

void pyr_seed(struct pyrandom *r, uint64_t n)
{
    /* CPython: the key is abs(n) as 32-bit words, least significant first; 0 -> [0]. */
    uint32_t key[2] = {(uint32_t)n, (uint32_t)(n >> 32)};
    init_by_array(r, key, key[1] ? 2 : 1);
}

uint32_t pyr_genrand_uint32(struct pyrandom *r)
{
    static const uint32_t mag01[2] = {0, 0x9908b0dfu};
    if (r->index >= 624) {
        int k;
        uint32_t y;
        for (k = 0; k < 624 - 397; k++) {
            y = (r->mt[k] & 0x80000000u) | (r->mt[k + 1] & 0x7fffffffu);
            r->mt[k] = r->mt[k + 397] ^ (y >> 1) ^ mag01[y & 1];
        }
        for (; k < 623; k++) {
            y = (r->mt[k] & 0x80000000u) | (r->mt[k + 1] & 0x7fffffffu);
            r->mt[k] = r->mt[k + (397 - 624)] ^ (y >> 1) ^ mag01[y & 1];
        }
        y = (r->mt[623] & 0x80000000u) | (r->mt[0] & 0x7fffffffu);
        r->mt[623] = r->mt[396] ^ (y >> 1) ^ mag01[y & 1];
        r->index = 0;
    }
    uint32_t y = r->mt[r->index++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

/* ---- derived functions (CPython 3.11 Lib/random.py, _randommodule.c) --- */

uint64_t pyr_getrandbits(struct pyrandom *r, int k)
{
    if (k <= 32) return pyr_genrand_uint32(r) >> (32 - k);
    /* Words least significant first; the last one keeps its top bits. */
    uint64_t lo = pyr_genrand_uint32(r);
    uint64_t hi = pyr_genrand_uint32(r) >> (64 - k);
    return lo | (hi << 32);
}

static int bit_length(uint64_t n)
{
    int k = 0;
    while (n) k++, n >>= 1;
    return k;
}

uint64_t pyr_randbelow(struct pyrandom *r, uint64_t n)
{
    const int k = bit_length(n); /* of n, not n - 1, as CPython */
    uint64_t v;
    do v = pyr_getrandbits(r, k);
    while (v >= n);
    return v;
}

int64_t pyr_randint(struct pyrandom *r, int64_t a, int64_t b)
{
    return a + (int64_t)pyr_randbelow(r, (uint64_t)(b - a + 1));
}

void pyr_shuffle(struct pyrandom *r, int64_t *x, int64_t n)
{
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)pyr_randbelow(r, (uint64_t)(i + 1));
        int64_t t = x[i];
        x[i] = x[j], x[j] = t;
    }
}

void pyr_sample_indices(struct pyrandom *r, int64_t n, int64_t k, int64_t *out)
{
    /* setsize = 21 (+ 4^ceil(log4(3k)) for k > 5): small populations use a pool,
     * large ones rejection against the set of picks. */
    int64_t setsize = 21;
    if (k > 5) setsize += (int64_t)pow(4.0, ceil(log(3.0 * (double)k) / log(4.0)));
    if (n <= setsize) {
        int64_t *pool = malloc((size_t)n * sizeof *pool);
        for (int64_t i = 0; i < n; i++) pool[i] = i;
        for (int64_t i = 0; i < k; i++) {
            int64_t j = (int64_t)pyr_randbelow(r, (uint64_t)(n - i));
            out[i] = pool[j];
            pool[j] = pool[n - i - 1];
        }
        free(pool);
        return;
    }
    for (int64_t i = 0; i < k; i++) {
        int64_t j;
    again:
        j = (int64_t)pyr_randbelow(r, (uint64_t)n);
        for (int64_t m = 0; m < i; m++)
            if (out[m] == j) goto again;
        out[i] = j;
    }
}

void pyr_uuid4(struct pyrandom *r, char out[37])
{
    /* getrandbits(128): four 32-bit words, least significant first. */
    uint32_t w[4];
    for (int i = 0; i < 4; i++) w[i] = pyr_genrand_uint32(r);
    uint64_t lo = (uint64_t)w[0] | ((uint64_t)w[1] << 32), hi = (uint64_t)w[2] | ((uint64_t)w[3] << 32);
    /* uuid.UUID(version=4): variant bits 10 at bits 62-63 of the low half's
     * top (bits 62..63 of int >> 0 + 48 + ...), version 4 at bits 76..79. */
    lo &= ~(0xc000ull << 48);
    lo |= 0x8000ull << 48;
    hi &= ~(0xf000ull << 0); /* bits 76..79 of the 128-bit int = bits 12..15 of hi */
    hi |= 0x4000ull;
    snprintf(out, 37, "%08x-%04x-%04x-%04x-%012llx", (unsigned)(hi >> 32), (unsigned)((hi >> 16) & 0xffff),
             (unsigned)(hi & 0xffff), (unsigned)(lo >> 48), (unsigned long long)(lo & 0xffffffffffffull));
}
