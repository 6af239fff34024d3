/* Byte-level BPE of one pre-tokenised piece (Sennrich et al. 2016; GPT-2).
 * Start from one symbol per byte, then repeatedly merge the adjacent pair
 * with the lowest merge rank (the leftmost such pair on ties), as the
 * tokenizers library's Word::merge_all does. Results are cached per piece. */
#include <stdlib.h>
#include <string.h>

#include "stb_ds.h"
#include "tokenizer/tokenizer_internal.h"

#define NO_MERGE INT32_MAX
/* The cache is cleared when it holds this many pieces, bounding memory on
 * long inputs with few repeats. */
#define CACHE_MAX_ENTRIES 200000

static int32_t pair_rank(const struct tokenizer *t, int32_t a, int32_t b, int32_t *merged)
{
    uint64_t key = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    ptrdiff_t i = hmgeti(((struct tokenizer *)t)->merges, key);
    if (i < 0) return NO_MERGE;
    *merged = t->merges[i].value.merged;
    return t->merges[i].value.rank;
}

static void merge_symbols(const struct tokenizer *t, int32_t *sym, int n, int32_t **out)
{
    /* rank[i] / into[i]: the merge of sym[i] and sym[i + 1]. */
    int32_t *rank = malloc((size_t)(n > 1 ? n : 1) * sizeof *rank),
            *into = malloc((size_t)(n > 1 ? n : 1) * sizeof *into);
    for (int i = 0; i + 1 < n; i++) rank[i] = pair_rank(t, sym[i], sym[i + 1], &into[i]);
    while (n > 1) {
        int best = -1;
        for (int i = 0; i + 1 < n; i++)
            if (rank[i] != NO_MERGE && (best < 0 || rank[i] < rank[best])) best = i;
        if (best < 0) break;
        sym[best] = into[best];
        memmove(sym + best + 1, sym + best + 2, (size_t)(n - best - 2) * sizeof *sym);
        memmove(rank + best + 1, rank + best + 2, (size_t)(n > best + 2 ? n - best - 3 : 0) * sizeof *rank);
        memmove(into + best + 1, into + best + 2, (size_t)(n > best + 2 ? n - best - 3 : 0) * sizeof *into);
        n--;
        if (best > 0) rank[best - 1] = pair_rank(t, sym[best - 1], sym[best], &into[best - 1]);
        if (best + 1 < n) rank[best] = pair_rank(t, sym[best], sym[best + 1], &into[best]);
    }
    for (int i = 0; i < n; i++) arrput(*out, sym[i]);
    free(rank);
    free(into);
}

void bpe_encode_piece(struct tokenizer *t, const unsigned char *bytes, size_t len, bool prefix_space, int32_t **out)
{
    const size_t n = len + (prefix_space ? 1 : 0);
    if (n == 0) return;
    /* The piece in the ByteLevel alphabet: the cache key, and the vocabulary
     * key when ignore_merges lets whole words match directly. */
    char stack_key[256];
    char *key = 2 * n + 1 <= sizeof stack_key ? stack_key : malloc(2 * n + 1);
    size_t kl = 0;
    int32_t *sym = malloc(n * sizeof *sym);
    for (size_t i = 0; i < n; i++) {
        unsigned char b = prefix_space ? (i == 0 ? ' ' : bytes[i - 1]) : bytes[i];
        memcpy(key + kl, t->bl.utf8[b], t->bl.utf8_len[b]);
        kl += t->bl.utf8_len[b];
        sym[i] = t->byte_id[b];
    }
    key[kl] = '\0';
    ptrdiff_t hit = shgeti(t->cache, key);
    if (hit >= 0) {
        int64_t v = t->cache[hit].value;
        for (int64_t i = 0; i < (v & 0xffff); i++) arrput(*out, t->cache_ids[(v >> 16) + i]);
    } else {
        ptrdiff_t start = arrlen(*out);
        ptrdiff_t whole = t->ignore_merges ? shgeti(t->vocab, key) : -1;
        if (whole >= 0)
            arrput(*out, t->vocab[whole].value);
        else
            merge_symbols(t, sym, (int)n, out);
        ptrdiff_t count = arrlen(*out) - start;
        if (count < 0xffff) {
            if (shlen(t->cache) >= CACHE_MAX_ENTRIES) {
                shfree(t->cache);
                sh_new_strdup(t->cache);
                arrfree(t->cache_ids);
            }
            int64_t off = arrlen(t->cache_ids);
            for (ptrdiff_t i = 0; i < count; i++) arrput(t->cache_ids, (*out)[start + i]);
            shput(t->cache, key, (off << 16) | count);
        }
    }
    free(sym);
    if (key != stack_key) free(key);
}
