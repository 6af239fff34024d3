/* CPython's `random` module, draw for draw: the MT19937 generator
 * (Matsumoto & Nishimura 1998) seeded as random.seed(int) does, and the
 * derived functions RULER's NIAH generator calls (getrandbits, randbelow,
 * randint, choice, shuffle, sample, and uuid4 from 128 random bits), with
 * CPython 3.11's algorithms. The same seed therefore draws the same keys,
 * values and depths as RULER (given the same haystack sizes). */
#ifndef HYRECALL_PYRANDOM_H
#define HYRECALL_PYRANDOM_H

#include <stdint.h>

struct pyrandom {
    uint32_t mt[624];
    int index;
};

/* random.seed(n) for a non-negative integer n < 2^64. */
void pyr_seed(struct pyrandom *r, uint64_t n);
uint32_t pyr_genrand_uint32(struct pyrandom *r);
/* random.getrandbits(k), 1 <= k <= 64. */
uint64_t pyr_getrandbits(struct pyrandom *r, int k);
/* random._randbelow(n), n >= 1 (rejection sampling on bit_length(n) bits). */
uint64_t pyr_randbelow(struct pyrandom *r, uint64_t n);
/* random.randint(a, b), inclusive. */
int64_t pyr_randint(struct pyrandom *r, int64_t a, int64_t b);
/* random.shuffle(x) of n ints. */
void pyr_shuffle(struct pyrandom *r, int64_t *x, int64_t n);
/* random.sample(range(n), k) when population is 0..n-1 (or the indices into
 * any population of n): writes k distinct indices in draw order. */
void pyr_sample_indices(struct pyrandom *r, int64_t n, int64_t k, int64_t *out);
/* str(uuid.UUID(int=random.getrandbits(128), version=4)): 36 chars + NUL. */
void pyr_uuid4(struct pyrandom *r, char out[37]);

#endif
