/* Where a layer's attention projections live in a checkpoint: the rows of
 * which tensors are W_Q, W_K, W_V and W_O (and their biases and the q/k norms),
 * for the restore module. Separate q_proj / k_proj tensors are whole;
 * fused projections give a periodic row selection: rows
 *   first + r·period + i,   r < repeats, i < count
 * (e.g. Qwen3-Next's q_proj holds [q_h | gate_h] per head: the q rows are
 * first 0, count head_dim, period 2·head_dim, repeats heads). */
#ifndef HYRECALL_QK_PARTS_H
#define HYRECALL_QK_PARTS_H

#include <stdint.h>

enum qk_role { QK_QUERY, QK_KEY, QK_VALUE, QK_OUTPUT, QK_QUERY_BIAS, QK_KEY_BIAS, QK_VALUE_BIAS, QK_NORM };

struct qk_part {
    enum qk_role role;
    char name[160];
    int64_t first, count, period, repeats; /* count 0: every row */
};

#define QK_MAX_PARTS 12

struct qk_parts {
    int n;
    struct qk_part part[QK_MAX_PARTS];
};

/* Appends a part; name is a printf format with the layer index. */
void qk_add(struct qk_parts *p, enum qk_role role, int64_t first, int64_t count, int64_t period, int64_t repeats,
            const char *fmt, int layer);
static inline void qk_add_whole(struct qk_parts *p, enum qk_role role, const char *fmt, int layer)
{
    qk_add(p, role, 0, 0, 0, 1, fmt, layer);
}

#endif
