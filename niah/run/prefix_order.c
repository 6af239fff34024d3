/* The order in which a block's samples reuse each other's prefill best
 * (engine/prefix_cache.h keeps the states along the last prompt only).
 *
 * RULER's samples of one task and length are the same text (template and
 * haystack) up to their first needle at depth d_i, so two samples share
 * min(d_i, d_j) of their beginning. Run in order of decreasing depth, each
 * sample shares its whole haystack prefix with the one before (which is
 * deeper), the most it can share with any: the prefill saved is the sum of
 * every depth but the deepest. The depth need not be known: a prompt's
 * longest shared beginning with any other is found, in lexicographic order,
 * with one of its two neighbours, and sorting by it, deepest first, is the
 * order above. Any order gives the same predictions; this one is only faster. */
#include <stdlib.h>
#include <string.h>

#include "niah/run/niah_run.h"

struct keyed {
    struct unit u;
    size_t shared; /* bytes of the prompt's beginning shared with another prompt */
};

static int by_text(const void *a, const void *b)
{
    return strcmp((*(const struct keyed *const *)a)->u.s->prompt, (*(const struct keyed *const *)b)->u.s->prompt);
}

static size_t common_bytes(const char *a, const char *b)
{
    size_t i = 0;
    while (a[i] && a[i] == b[i]) i++;
    return i;
}

/* Longest length first (under MPI the slowest units start early), then the
 * deepest shared beginning, then the order of predictions.jsonl. */
static int by_reuse(const void *a, const void *b)
{
    const struct keyed *x = a, *y = b;
    if (x->u.length != y->u.length) return x->u.length > y->u.length ? -1 : 1;
    if (x->shared != y->shared) return x->shared > y->shared ? -1 : 1;
    return (x->u.index > y->u.index) - (x->u.index < y->u.index);
}

void niah_prefix_order(struct unit *units, int n)
{
    struct keyed *k = malloc((size_t)n * sizeof *k);
    struct keyed **text = malloc((size_t)n * sizeof *text);
    if (!k || !text) { /* the order is an optimisation: keep the given one */
        free(k), free(text);
        return;
    }
    for (int i = 0; i < n; i++) k[i] = (struct keyed){units[i], 0}, text[i] = &k[i];
    qsort(text, (size_t)n, sizeof *text, by_text);
    for (int i = 0; i + 1 < n; i++) {
        const size_t c = common_bytes(text[i]->u.s->prompt, text[i + 1]->u.s->prompt);
        if (c > text[i]->shared) text[i]->shared = c;
        if (c > text[i + 1]->shared) text[i + 1]->shared = c;
    }
    qsort(k, (size_t)n, sizeof *k, by_reuse);
    for (int i = 0; i < n; i++) units[i] = k[i].u;
    free(k), free(text);
}
