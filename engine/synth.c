#include "engine/synth.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/base/files.h"
#include "engine/load/config.h"
#include "engine/load/safetensors.h"
#include "engine/load/weight_binder.h"
#include "engine/model.h"
#include "stb_ds.h"

struct synth_ctx {
    const struct wanted_tensor *wanted;
    enum dtype dtype;
    uint64_t seed;
    double init_std;
};

/* splitmix64: a fresh, well-mixed stream per tensor. */
static uint64_t mix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static double uniform(uint64_t *s)
{
    return ((double)(mix(s) >> 11) + 0.5) / 9007199254740992.0;
}
static double normal(uint64_t *s)
{
    return sqrt(-2 * log(uniform(s))) * cos(2 * M_PI * uniform(s));
}

/* The decay gate g = -e^{A_log} softplus(a + dt_bias) initialised as the
 * published models do (Mamba-2's rule; NVlabs' jet_block.py, thunlp's gdn.py):
 * the step dt is log-uniform in [0.001, 0.1], floored at 1e-4, and stored
 * through the inverse of softplus, so softplus(dt_bias) = dt. (A_log below is
 * log U(1, 16); the published codes draw A from U(0, 16).) A token then decays
 * the state by e^{-0.001} .. e^{-1.6}, as the published models start; decays
 * drawn far stronger would fill the chunked kernels with subnormal floats and
 * measure their slow arithmetic instead of the model. */
static double log_uniform_dt(uint64_t *s)
{
    const double dt = exp(log(0.001) + uniform(s) * (log(0.1) - log(0.001)));
    return dt < 1e-4 ? 1e-4 : dt;
}
static double inverse_softplus(double y)
{
    return y + log(-expm1(-y));
}

static bool has(const char *name, const char *part)
{
    return strstr(name, part) != NULL;
}

static int fill(void *ctx_, int index, void *buf, struct hr_error *e)
{
    (void)e;
    const struct synth_ctx *ctx = ctx_;
    const struct wanted_tensor *w = &ctx->wanted[index];
    int64_t numel = 1;
    for (int d = 0; d < w->ndim; d++) numel *= w->shape[d];
    /* One random stream per chunk of 64K values: parallel, and the same
     * values at any thread count. */
    const int64_t chunk = 65536, chunks = (numel + chunk - 1) / chunk;
#pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < chunks; c++) {
        uint64_t s = (ctx->seed * 1000003ull + (uint64_t)index) * 0x100000001B3ull + (uint64_t)c;
        const int64_t end = (c + 1) * chunk < numel ? (c + 1) * chunk : numel;
        for (int64_t i = c * chunk; i < end; i++) {
            double v;
            if (w->norm_offset)
                v = 0;
            else if (w->ndim == 1 && has(w->name, "norm"))
                v = 1;
            else if (has(w->name, "A_log"))
                v = log(1 + 15 * uniform(&s));
            else if (has(w->name, "dt_bias"))
                v = inverse_softplus(log_uniform_dt(&s));
            else if (has(w->name, ".bias"))
                v = 0;
            else if (has(w->name, "conv"))
                v = 0.2 * normal(&s);
            else
                v = ctx->init_std * normal(&s);
            if (ctx->dtype == DT_BF16)
                ((uint16_t *)buf)[i] = f32_to_bf16((float)v);
            else
                ((float *)buf)[i] = (float)v;
        }
    }
    return 0;
}

int synth_checkpoint(const char *config_path, const char *out_dir, enum dtype dtype, uint64_t seed, int64_t *num_params,
                     struct hr_error *e)
{
    struct atomic_output out;
    if (atomic_begin(&out, ATOMIC_DIRECTORY, out_dir, false, e)) return -1;
    struct model m;
    struct wanted_tensor *wanted;
    if (model_plan(config_path, &m, &wanted, e)) {
        atomic_abort(&out);
        return -1;
    }
    *num_params = m.num_params;
    double std = 0.02;
    cfg_number(&m.cfg, m.cfg.json, "initializer_range", 0.02, &std, e);
    struct synth_ctx ctx = {wanted, dtype, seed, std};
    const int n = (int)arrlen(wanted);
    struct st_write_tensor *t = calloc((size_t)n + 1, sizeof *t);
    for (int i = 0; i < n; i++) {
        t[i].name = wanted[i].name;
        t[i].dtype = dtype;
        t[i].ndim = wanted[i].ndim;
        for (int d = 0; d < wanted[i].ndim; d++) t[i].shape[d] = wanted[i].shape[d];
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/config.json", out.tmp);
    char *text = read_text_file(config_path, NULL, e);
    FILE *f = text ? fopen(path, "wb") : NULL;
    int rc = text ? 0 : -1; /* e names the unreadable config */
    if (rc == 0 && (!f || fputs(text, f) < 0)) rc = hr_fail(e, "%s: cannot write config.json", out_dir);
    if (f && fclose(f) != 0 && rc == 0) rc = hr_fail(e, "%s: cannot write config.json", out_dir);
    free(text);
    char seed_text[32];
    snprintf(seed_text, sizeof seed_text, "%llu", (unsigned long long)seed);
    const char *meta[] = {"format", "pt", "hyrecall_synth_seed", seed_text, NULL};
    snprintf(path, sizeof path, "%s/model.safetensors", out.tmp);
    if (rc == 0) rc = st_write_file_with(path, t, n, meta, false, fill, &ctx, e);
    if (rc == 0)
        rc = atomic_commit(&out, e);
    else
        atomic_abort(&out);
    free(t);
    wanted_tensors_free(wanted);
    model_free(&m);
    return rc;
}
