/* What a run will need in memory, computed before anything is allocated:
 * the mapped checkpoint, the float32 copies of tensors stored in another
 * dtype (BF16 matrices are not copied), the per-sequence state at the requested context (KV caches grow with
 * it, recurrent states do not) and the activation scratch. */
#ifndef HYRECALL_MEMORY_PLAN_H
#define HYRECALL_MEMORY_PLAN_H

#include <stdint.h>

#include "engine/base/error.h"
#include "engine/model.h"
#include "engine/restore/restore.h"

struct memory_plan {
    int64_t mapped, converted, state, scratch, total;
};

/* For DIR at a context of `context` tokens. */
int memory_plan_estimate(const char *dir, int64_t context, struct memory_plan *p, struct hr_error *e);
/* MemAvailable from /proc/meminfo, in bytes (or -1 when unknown). */
int64_t memory_available(void);
/* "20G", "20GiB", "512M", "1.5T" (binary units), plain bytes; -1 for "unlimited"; 0 on a syntax error. */
int64_t memory_parse_size(const char *text);

/* Loads dir (restored when o->base_dir is set) after checking that a run at
 * `context` tokens fits, with `extra` bytes the caller will hold besides the
 * model and its session (the NIAH runner's prefix-cache snapshots, at their
 * cap): limit in bytes, 0 for the memory available now, -1 for no check. The
 * refusal names every part of the estimate. */
int model_load_within(const char *dir, const struct restore_options *o, int64_t context, int64_t extra, int64_t limit,
                      struct model *m, struct hr_error *e);

#endif
