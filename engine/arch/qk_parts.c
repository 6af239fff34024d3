#include "engine/arch/qk_parts.h"

#include <stdio.h>

void qk_add(struct qk_parts *p, enum qk_role role, int64_t first, int64_t count, int64_t period, int64_t repeats,
            const char *fmt, int layer)
{
    if (p->n >= QK_MAX_PARTS) return;
    struct qk_part *q = &p->part[p->n++];
    q->role = role;
    q->first = first;
    q->count = count;
    q->period = period;
    q->repeats = repeats;
    snprintf(q->name, sizeof q->name, fmt, layer);
}
