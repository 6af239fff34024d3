/* Per-thread scratch for the kernels, owned by the caller (the session) and
 * sized before any parallel region: a kernel takes its thread's slice, so no
 * kernel allocates inside a parallel region and none can run out of memory
 * there. Each kernel says what it needs (*_workspace_floats); the owner
 * reserves the largest need before calling, and the reservation is where an
 * out-of-memory is reported, as an error value. */
#ifndef HYRECALL_OPS_WORKSPACE_H
#define HYRECALL_OPS_WORKSPACE_H

#include <stddef.h>
#include <stdint.h>

struct workspace {
    int threads;   /* slices */
    int64_t slice; /* floats per slice (a multiple of 16: 64-byte aligned slices) */
    float *data;   /* [threads, slice] */
};

/* Grows w to at least `threads` slices of `floats` floats (never shrinks);
 * -1 when out of memory (w unchanged). Call outside parallel regions. */
int workspace_reserve(struct workspace *w, int threads, int64_t floats);
void workspace_free(struct workspace *w);

/* The calling thread's number in the outermost parallel region (0 outside
 * one): unique among the threads working at once, even inside a nested
 * region. Per-thread resources are indexed by it. */
int workspace_thread(void);
/* The slice of the calling OpenMP thread (workspace_thread()'s). */
float *workspace_mine(const struct workspace *w);
/* The team size a kernel's parallel region may use: the threads OpenMP would
 * start, but never more than w has slices for. */
int workspace_team(const struct workspace *w);

#endif
