/* Prefix reuse across prompts that share a beginning. RULER's samples of one
 * task and length share the prompt up to their first needle (the template and
 * the haystack before it), so that part need not be prefilled again for every
 * sample: the cache remembers the last prompt the session was fed and
 * snapshots of the session's state at fixed positions along it, and the next
 * prompt starts from the last snapshot inside the common prefix.
 *
 * Same bits as a cold prefill, by construction: snapshots lie at multiples
 * of the session's micro-batch, so the prompt is fed in exactly the batches
 * a cold session_forward() from position 0 would use, and every kernel sees
 * the same inputs in the same order (the prefill's micro-batches are what
 * fixes its rounding: tests/test_determinism.c). The snapshot holds what a
 * full-attention cache does not (engine/session.h); its rows below the
 * restored position are those of the common prefix, written when the last
 * prompt was fed and untouched since. So the session must be used only
 * through the cache while the cache is in use. */
#ifndef HYRECALL_PREFIX_CACHE_H
#define HYRECALL_PREFIX_CACHE_H

#include <stdint.h>

#include "engine/base/error.h"
#include "engine/session.h"

/* What the snapshots may hold in all, unless the caller says otherwise. */
#define PREFIX_CACHE_DEFAULT_BYTES ((int64_t)1 << 30)

struct prefix_cache {
    struct session *s;
    int64_t spacing;         /* tokens between snapshots: a multiple of the session's micro-batch */
    int64_t snapshot_floats; /* one snapshot's size */
    int max_snapshots;       /* within the memory given */
    float **snapshots; /* [max_snapshots]: snapshot i at position (i + 1) · spacing, allocated when first taken */
    int num_valid;     /* snapshots 0 .. num_valid − 1 lie along ids */
    int32_t *ids;      /* the prompt the session's state follows */
    int64_t num_ids, cap_ids;
    int64_t prompt_tokens, reused_tokens; /* totals over every prefill, for reports */
};

/* A cache for prompts of up to about `longest` tokens whose snapshots take
 * at most max_bytes; the spacing is the smallest multiple of the session's
 * micro-batch that fits. Longer prompts work; beyond the last snapshot they
 * are not cached. Memory for a snapshot is taken when it is first needed,
 * and a snapshot that cannot be allocated is simply not taken. */
int prefix_cache_init(struct prefix_cache *pc, struct session *s, int64_t longest, int64_t max_bytes,
                      struct hr_error *e);
void prefix_cache_free(struct prefix_cache *pc);

/* Feeds the prompt ids[0 .. n) to the session from position 0, starting from
 * the last snapshot inside its common prefix with the previous prompt (and
 * never past n − 1: the last token always runs), and writes the last token's
 * logits [vocab]. Afterwards the session is at position n, as after
 * session_reset() and session_forward(ids, n). */
int prefix_cache_prefill(struct prefix_cache *pc, const int32_t *ids, int64_t n, float *logits, struct hr_error *e);

#endif
