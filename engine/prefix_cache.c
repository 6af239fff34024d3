#include "engine/prefix_cache.h"

#include <stdlib.h>
#include <string.h>

int prefix_cache_init(struct prefix_cache *pc, struct session *s, int64_t longest, int64_t max_bytes,
                      struct hr_error *e)
{
    memset(pc, 0, sizeof *pc);
    pc->s = s;
    pc->snapshot_floats = session_snapshot_floats(s);
    const int64_t batch = s->max_batch, batches = (longest + batch - 1) / batch;
    /* A model whose state is all full KV caches (dense attention) snapshots
     * nothing but its position: a snapshot at every batch costs nothing. */
    const int64_t bytes = pc->snapshot_floats * (int64_t)sizeof(float);
    int64_t fit = bytes > 0 ? max_bytes / bytes : batches;
    if (fit > batches) fit = batches;
    if (fit < 1) fit = 1; /* one snapshot larger than the budget: the first batch boundary only */
    pc->max_snapshots = (int)fit;
    pc->spacing = batch * ((batches + fit - 1) / fit);
    if (pc->spacing < batch) pc->spacing = batch;
    pc->snapshots = calloc((size_t)pc->max_snapshots, sizeof *pc->snapshots);
    if (!pc->snapshots) return hr_fail(e, "out of memory for the prefix cache");
    return 0;
}

void prefix_cache_free(struct prefix_cache *pc)
{
    for (int i = 0; pc->snapshots && i < pc->max_snapshots; i++) free(pc->snapshots[i]);
    free(pc->snapshots);
    free(pc->ids);
    memset(pc, 0, sizeof *pc);
}

static int64_t common_prefix(const int32_t *a, int64_t na, const int32_t *b, int64_t nb)
{
    int64_t i = 0;
    while (i < na && i < nb && a[i] == b[i]) i++;
    return i;
}

/* Snapshot k (the state at position (k + 1) · spacing) of the session now;
 * false when its memory cannot be had (the cache then stops growing). */
static bool take_snapshot(struct prefix_cache *pc, int k)
{
    if (!pc->snapshots[k] && pc->snapshot_floats > 0) {
        pc->snapshots[k] = malloc((size_t)pc->snapshot_floats * sizeof(float));
        if (!pc->snapshots[k]) return false;
    }
    if (pc->snapshot_floats > 0) session_snapshot_save(pc->s, pc->snapshots[k]);
    return true;
}

int prefix_cache_prefill(struct prefix_cache *pc, const int32_t *ids, int64_t n, float *logits, struct hr_error *e)
{
    if (n <= 0) return hr_fail(e, "session: no tokens to process");
    /* The longest restorable start: a snapshot inside the common prefix that
     * leaves at least the last token to run (its logits are the answer). */
    int64_t shared = common_prefix(ids, n, pc->ids, pc->num_ids);
    if (shared > n - 1) shared = n - 1;
    int k = (int)(shared / pc->spacing);
    if (k > pc->num_valid) k = pc->num_valid;
    if (k == 0)
        session_reset(pc->s);
    else
        session_snapshot_load(pc->s, pc->snapshot_floats > 0 ? pc->snapshots[k - 1] : NULL, k * pc->spacing);
    /* From here the session follows ids: snapshots past k belonged to the old
     * prompt's tail, which the full caches are about to overwrite. */
    pc->num_valid = k;
    if (n > pc->cap_ids) {
        int32_t *grown = realloc(pc->ids, (size_t)n * sizeof *grown);
        if (!grown) {
            pc->num_ids = 0;
            return hr_fail(e, "out of memory for the prefix cache");
        }
        pc->ids = grown, pc->cap_ids = n;
    }
    memcpy(pc->ids, ids, (size_t)n * sizeof *ids);
    pc->num_ids = n;
    pc->prompt_tokens += n;
    pc->reused_tokens += k * pc->spacing;

    /* Feed the rest up to each snapshot position in turn: session_forward
     * splits every piece into micro-batches from its start, and each start is
     * a multiple of the micro-batch, so the batches are a cold prefill's. */
    for (int64_t pos = k * pc->spacing; pos < n;) {
        const int64_t next = (pos / pc->spacing + 1) * pc->spacing, end = next < n ? next : n;
        if (session_forward(pc->s, ids + pos, (int)(end - pos), end == n ? logits : NULL, false, e) != 0) {
            pc->num_valid = 0, pc->num_ids = 0; /* the session's state is no prompt's now */
            return -1;
        }
        pos = end;
        const int slot = (int)(pos / pc->spacing) - 1;
        if (pos % pc->spacing == 0 && slot == pc->num_valid && slot < pc->max_snapshots && take_snapshot(pc, slot))
            pc->num_valid++;
    }
    return 0;
}
