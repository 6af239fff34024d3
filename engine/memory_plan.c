#include "engine/memory_plan.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/load/safetensors.h"
#include "engine/load/weight_binder.h"
#include "engine/model.h"
#include "engine/ops/cpu.h"
#include "engine/session.h"
#include "stb_ds.h"

int memory_plan_estimate(const char *dir, int64_t context, struct memory_plan *p, struct hr_error *e)
{
    memset(p, 0, sizeof *p);
    struct st_archive a;
    if (st_open_dir(dir, &a, e)) return -1;
    p->mapped = (int64_t)a.mapped_bytes;
    int64_t kept_cols = 0; /* the widest matrix linear() stages (BF16 read in place; all under bf16 compute) */
    for (ptrdiff_t fi = 0; fi < arrlen(a.files); fi++)
        for (ptrdiff_t ti = 0; ti < arrlen(a.files[fi].tensors); ti++) {
            const struct st_tensor *t = &a.files[fi].tensors[ti];
            /* BF16 matrices are used from the mmap (matvec.h); vectors and
             * other dtypes get float32 copies. (A matrix that a restore
             * patches becomes a float32 copy too; the plan leaves those out:
             * the Q/K projections are a small share of a model.) */
            const bool kept = t->ndim == 2 && bf16_usable_in_place(t);
            const bool staged = t->ndim == 2 && (kept || linear_compute() == COMPUTE_BF16); /* ops.h */
            const bool view = t->dtype == DT_F32 && (uintptr_t)t->data % sizeof(float) == 0;
            if (!kept && !view) p->converted += t->numel * (int64_t)sizeof(float);
            if (staged && t->shape[1] > kept_cols) kept_cols = t->shape[1];
        }
    st_close_archive(&a);
    /* The layer plan, without weights, for the state and scratch sizes. */
    char config[4200];
    snprintf(config, sizeof config, "%s/config.json", dir);
    struct model m;
    struct wanted_tensor *wanted;
    if (model_plan(config, &m, &wanted, e)) return -1;
    p->state = session_state_bytes(&m, context);
    /* The plan's matrices are float32 zeros: linear()'s staging is sized from
     * the checkpoint's widest staged matrix. The workspace is one slice per
     * thread, as large as the largest kernel's need, linear()'s included. */
    p->scratch = session_scratch_bytes(&m, SESSION_DEFAULT_BATCH) +
                 session_workspace_bytes(&m, cpu_threads(), SESSION_DEFAULT_BATCH, context, kept_cols);
    wanted_tensors_free(wanted);
    model_free(&m);
    p->total = p->mapped + p->converted + p->state + p->scratch;
    return 0;
}

int64_t memory_available(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return -1;
    char line[256];
    long long kb = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %lld kB", &kb) == 1) break;
    fclose(f);
    return kb < 0 ? -1 : (int64_t)kb * 1024;
}

int64_t memory_parse_size(const char *text)
{
    if (strcmp(text, "unlimited") == 0) return -1;
    char *end;
    double v = strtod(text, &end);
    double unit = 1;
    switch (*end) {
    case 'K':
    case 'k': unit = 1024.0, end++; break;
    case 'M':
    case 'm': unit = 1024.0 * 1024, end++; break;
    case 'G':
    case 'g': unit = 1024.0 * 1024 * 1024, end++; break;
    case 'T':
    case 't': unit = 1024.0 * 1024 * 1024 * 1024, end++; break;
    }
    if (unit > 1 && *end == 'i') end++; /* 20GiB: the units are binary either way */
    if (*end == 'B' || *end == 'b') end++;
    if (end == text || *end || !(v > 0) || v * unit > 9e18) return 0;
    return (int64_t)(v * unit);
}

int model_load_within(const char *dir, const struct restore_options *o, int64_t context, int64_t extra, int64_t limit,
                      struct model *m, struct hr_error *e)
{
    /* Plan before allocating: refuse a run that cannot fit. */
    struct memory_plan plan;
    struct hr_error ignored;
    const int64_t allowed = limit ? limit : memory_available();
    if (allowed > 0 && memory_plan_estimate(dir, context, &plan, &ignored) == 0 && plan.total + extra > allowed) {
        char extra_part[96] = "";
        if (extra > 0)
            snprintf(extra_part, sizeof extra_part, ", prefix-cache snapshots up to %.1f", extra / 1048576.0);
        return hr_fail(e,
                       "%s at %lld tokens needs about %.1f MiB (weights mapped %.1f, float32 copies %.1f, caches "
                       "and states %.1f, activations %.1f%s) but %.1f MiB are %s; use --max-memory to override",
                       dir, (long long)context, (plan.total + extra) / 1048576.0, plan.mapped / 1048576.0,
                       plan.converted / 1048576.0, plan.state / 1048576.0, plan.scratch / 1048576.0, extra_part,
                       allowed / 1048576.0, limit ? "allowed by --max-memory" : "available");
    }
    return o && o->base_dir ? restore_load_model(dir, o, m, e) : model_load(dir, m, e);
}
