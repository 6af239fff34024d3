#include "engine/ops/workspace.h"

#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int workspace_reserve(struct workspace *w, int threads, int64_t floats)
{
    floats = floats < 16 ? 16 : (floats + 15) / 16 * 16;
    if (threads < 1) threads = 1;
    if (threads <= w->threads && floats <= w->slice) return 0;
    const int t = threads > w->threads ? threads : w->threads;
    const int64_t s = floats > w->slice ? floats : w->slice;
    if (s > INT64_MAX / (int64_t)sizeof(float) / t) return -1; /* not even addressable */
    float *data = aligned_alloc(64, (size_t)t * (size_t)s * sizeof(float));
    if (!data) return -1;
    omp_set_max_active_levels(1); /* one slice per thread of the outermost region (workspace_mine) */
    free(w->data);
    w->data = data, w->threads = t, w->slice = s;
    return 0;
}

void workspace_free(struct workspace *w)
{
    free(w->data);
    memset(w, 0, sizeof *w);
}

/* A kernel called inside another region (an MoE expert's linear()) runs
 * there in a team of one (nested regions are inactive: workspace_reserve
 * makes sure), so the outermost region's thread number is the one unique
 * among the threads working at once. */
int workspace_thread(void)
{
    return omp_get_level() >= 1 ? omp_get_ancestor_thread_num(1) : 0;
}

float *workspace_mine(const struct workspace *w)
{
    return w->data + (int64_t)workspace_thread() * w->slice;
}

int workspace_team(const struct workspace *w)
{
    const int t = omp_get_max_threads();
    return t < w->threads ? t : (w->threads > 0 ? w->threads : 1);
}
