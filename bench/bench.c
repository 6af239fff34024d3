#include "bench/bench.h"
#include "engine/base/clock.h"

#include <cblas.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "engine/hyrecall.h"

void bench_machine(struct machine_limits *m)
{
    m->threads = cpu_threads();
    m->openblas_core = cpu_openblas_core();
    const int n = 2048;
    float *a = malloc((size_t)n * n * sizeof(float)), *b = malloc((size_t)n * n * sizeof(float)),
          *c = malloc((size_t)n * n * sizeof(float));
    for (size_t i = 0; i < (size_t)n * n; i++) a[i] = (float)(i % 7) * 0.1f, b[i] = (float)(i % 5) * 0.1f;
    double best = 1e30;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = clock_seconds();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        double dt = clock_seconds() - t0;
        if (rep > 0 && dt < best) best = dt; /* the first run warms up threads and caches */
    }
    m->sgemm_gflops = 2.0 * n * n * (double)n / best / 1e9;
    free(a), free(b), free(c);

    /* Decode streams weights through a matrix-vector product: measure the
     * bandwidth with OpenBLAS's float32 GEMV over 1 GiB (a kernel that is not
     * ours, so the ratio cannot flatter our own). */
    const int rows = 16384, cols = 16384; /* 1 GiB */
    float *w = malloc((size_t)rows * cols * sizeof(float)), *x = malloc((size_t)cols * sizeof(float)),
          *y = malloc((size_t)rows * sizeof(float));
#pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; r++)
        for (int k = 0; k < cols; k++) w[(size_t)r * cols + k] = (float)((r + k) % 3) * 0.01f;
    for (int k = 0; k < cols; k++) x[k] = 1.0f;
    best = 1e30;
    for (int rep = 0; rep < 4; rep++) {
        double t0 = clock_seconds();
        cblas_sgemv(CblasRowMajor, CblasNoTrans, rows, cols, 1.0f, w, cols, x, 1, 0.0f, y, 1);
        double dt = clock_seconds() - t0;
        if (rep > 0 && dt < best) best = dt;
    }
    m->stream_gbs = (double)rows * cols * sizeof(float) / best / 1e9;
    free(w), free(x), free(y);
}

/* Matrices are counted in parameters (for FLOPs) or in the bytes a pass reads
 * (4 for float32, 2 for BF16 used from the mmap). */
enum unit { PARAMS, BYTES };

static double matrix_size(const struct weight *w, enum unit u)
{
    if (!weight_present(w)) return 0;
    const double n = (double)w->rows * (double)w->cols;
    return u == PARAMS ? n : n * (w->bf16 ? 2.0 : 4.0);
}

static double mixer_size(const struct layer *L, enum unit u)
{
    const struct weight *w[BLOCK_MAX_MATRICES];
    double size = 0;
    for (int i = 0, n = block_kind(L->mixer)->matrices(L, w); i < n; i++) size += matrix_size(w[i], u);
    return size;
}

static double mlp_size(const struct mlp_weights *w, enum unit u)
{
    return matrix_size(&w->gate, u) + matrix_size(&w->up, u) + matrix_size(&w->down, u);
}

/* Weights a token passes through: its mixer's projections and, for a mixture
 * of experts, the router, top-k experts and the shared expert (whose gate is
 * a float32 vector of hidden_size). */
static double active_matrix_size(const struct model *m, enum unit u)
{
    double p = 0;
    for (int i = 0; i < m->cfg.num_layers; i++) {
        const struct layer *L = &m->layers[i];
        p += mixer_size(L, u);
        if (!L->sparse) {
            p += mlp_size(&L->mlp, u);
            continue;
        }
        p += matrix_size(&L->moe.router, u) + L->moe.top_k * mlp_size(&L->moe.experts[0], u);
        if (L->moe.has_shared) p += mlp_size(&L->moe.shared, u) + m->cfg.hidden_size * (u == BYTES ? 4.0 : 1.0);
    }
    return p;
}

/* Prefill FLOPs: 2 per active weight per token (lm_head only for the last
 * token), plus the sequence mixing:
 *   softmax attention  4 · heads · head_dim · Σ_t visible(t)   (QKᵀ and PV)
 *   linear attention   per token and head 4 · dk · dv (state) + 4 · C · d (intra-chunk, C = 64)
 * norms, activations and RoPE are left out (a few percent at most). */
const char *const bench_part_names[PART_COUNT] = {"attention", "linear_mixers", "ffn", "lm_head", "other"};

static double ffn_size(const struct model *m, const struct layer *L, enum unit u)
{
    if (!L->sparse) return mlp_size(&L->mlp, u);
    double p = matrix_size(&L->moe.router, u) + L->moe.top_k * mlp_size(&L->moe.experts[0], u);
    if (L->moe.has_shared) p += mlp_size(&L->moe.shared, u) + m->cfg.hidden_size * (u == BYTES ? 4.0 : 1.0);
    return p;
}

void bench_prefill_flops_by_part(const struct model *m, int64_t T, double flops[PART_COUNT])
{
    const struct model_config *c = &m->cfg;
    for (int k = 0; k < PART_COUNT; k++) flops[k] = 0;
    flops[PART_LM_HEAD] = 2.0 * matrix_size(&m->lm_head, PARAMS);
    for (int i = 0; i < c->num_layers; i++) {
        const struct layer *L = &m->layers[i];
        flops[PART_FFN] += 2.0 * ffn_size(m, L, PARAMS) * (double)T;
        double mix = 2.0 * mixer_size(L, PARAMS) * (double)T;
        if (L->mixer == MIXER_SOFTMAX_ATTENTION) {
            const double W = L->window > 0 ? (double)L->window : (double)T;
            const double visible = W >= (double)T ? (double)T * ((double)T + 1) / 2 : W * (double)T - W * (W - 1) / 2;
            mix += 4.0 * c->num_heads * c->head_dim * visible;
            flops[PART_ATTENTION] += mix;
        } else {
            const struct recurrent_shape r = block_kind(L->mixer)->recurrent(m, L);
            mix += (double)T * r.heads * (4.0 * r.dk * r.dv + 4.0 * 64 * (r.dk + r.dv) / 2);
            flops[PART_LINEAR] += mix;
        }
    }
}

double bench_prefill_flops(const struct model *m, int64_t T)
{
    double parts[PART_COUNT], f = 0;
    bench_prefill_flops_by_part(m, T, parts);
    for (int k = 0; k < PART_COUNT; k++) f += parts[k];
    return f;
}

/* Bytes a decode step reads: every active weight once (as stored in memory),
 * the lm_head, and each layer's sequence state (KV cache of the visible
 * positions at the width the cache stores them, kv_cache_bytes_for; or the
 * recurrent state read and written). */
double bench_decode_bytes(const struct model *m, int64_t T)
{
    const struct model_config *c = &m->cfg;
    double b = active_matrix_size(m, BYTES) + matrix_size(&m->lm_head, BYTES);
    for (int i = 0; i < c->num_layers; i++) {
        const struct layer *L = &m->layers[i];
        if (L->mixer == MIXER_SOFTMAX_ATTENTION) { /* float32 rows, or bfloat16 under bf16 compute */
            b += (double)kv_cache_bytes_for(L->window, c->num_kv_heads, c->head_dim, T,
                                            linear_compute() == COMPUTE_BF16);
        } else {
            const struct recurrent_shape r = block_kind(L->mixer)->recurrent(m, L);
            b += 2.0 * 4.0 * r.heads * r.dk * r.dv;
        }
    }
    return b;
}

/* Resets the process's resident-set high-water mark (Linux >= 4.0: writing
 * 5 to /proc/self/clear_refs), so that each run reports its own peak and not
 * the GEMV buffer of the machine measurement or an earlier, longer run.
 * Returns false where that is not possible. */
static bool reset_peak_rss(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f) return false;
    const bool ok = fputs("5", f) >= 0;
    return fclose(f) == 0 && ok;
}

/* VmHWM of /proc/self/status, else getrusage's peak since the start. */
static int64_t peak_rss(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %lld kB", &kb) == 1) break;
    if (f) fclose(f);
    if (kb >= 0) return (int64_t)kb * 1024;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (int64_t)ru.ru_maxrss * 1024;
}

/* The prefill's time by part, from the session's observer points (observer.h):
 * each point closes the interval since the previous one. */
struct part_clock {
    const struct model *m;
    double last, seconds[PART_COUNT], final_norm_at;
};

static void on_module(void *ctx, enum observed_module what, int layer, const float *x, int rows, int width, int64_t pos)
{
    (void)x, (void)rows, (void)width, (void)pos;
    struct part_clock *pc = ctx;
    const double now = clock_seconds();
    enum bench_part part = PART_OTHER;
    switch (what) {
    case OBSERVE_MIXER_GATE: return; /* inside the block */
    case OBSERVE_EMBEDDINGS: part = PART_OTHER; break;
    case OBSERVE_MIXER_OUTPUT:
        part = pc->m->layers[layer].mixer == MIXER_SOFTMAX_ATTENTION ? PART_ATTENTION : PART_LINEAR;
        break;
    case OBSERVE_MLP_OUTPUT: part = PART_FFN; break;
    case OBSERVE_LAYER_OUTPUT: part = PART_OTHER; break;
    case OBSERVE_FINAL_NORM: part = PART_OTHER, pc->final_norm_at = now; break;
    }
    if (pc->last > 0) pc->seconds[part] += now - pc->last;
    pc->last = now;
}

int bench_model(const struct model *m, int64_t context, int decode_tokens, struct machine_limits *limits,
                struct bench_run *r, struct hr_error *e)
{
    memset(r, 0, sizeof *r);
    r->context = context;
    const int V = m->cfg.vocab_size;
    int32_t *ids = malloc((size_t)context * sizeof *ids);
    uint64_t s = 0x2545F4914F6CDD1Dull;
    for (int64_t i = 0; i < context; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        ids[i] = (int32_t)(s % (uint64_t)V);
    }
    float *logits = malloc((size_t)V * sizeof(float));
    const struct machine_limits before = *limits;
    reset_peak_rss();
    struct session sess;
    if (session_init(&sess, m, 0, e)) {
        free(ids), free(logits);
        return -1;
    }
    struct part_clock pc = {.m = m};
    const struct session_observer timing = {.ctx = &pc, .module_output = on_module};
    session_set_observer(&sess, &timing);
    double t0 = clock_seconds();
    pc.last = t0;
    int rc = session_forward(&sess, ids, (int)context, logits, false, e);
    const double t_end = clock_seconds();
    r->prefill_seconds = t_end - t0;
    session_set_observer(&sess, NULL);
    pc.seconds[PART_LM_HEAD] = pc.final_norm_at > 0 ? t_end - pc.final_norm_at : 0; /* after the last point */
    for (int k = 0; k < PART_COUNT; k++) r->part_seconds[k] = pc.seconds[k];
    bench_prefill_flops_by_part(m, context, r->part_flops);
    double decode_seconds = 0;
    if (rc == 0) {
        t0 = clock_seconds();
        for (int i = 0; rc == 0 && i < decode_tokens; i++) {
            int32_t next = (int32_t)argmax_f32(logits, V);
            if (next < 0) next = 0;
            rc = session_forward(&sess, &next, 1, logits, false, e);
        }
        decode_seconds = clock_seconds() - t0;
    }
    r->peak_rss_bytes = peak_rss();
    session_free(&sess);
    free(ids), free(logits);
    if (rc != 0) return rc;
    bench_machine(limits);
    r->around = before;
    if (limits->sgemm_gflops > r->around.sgemm_gflops) r->around.sgemm_gflops = limits->sgemm_gflops;
    if (limits->stream_gbs > r->around.stream_gbs) r->around.stream_gbs = limits->stream_gbs;

    r->prefill_tokens_per_s = (double)context / r->prefill_seconds;
    r->prefill_flops = bench_prefill_flops(m, context);
    r->prefill_fraction_of_peak = r->prefill_flops / r->prefill_seconds / (r->around.sgemm_gflops * 1e9);
    r->decode_tokens_per_s = decode_tokens / decode_seconds;
    r->niah_sample_seconds = r->prefill_seconds + 32.0 / r->decode_tokens_per_s;
    r->decode_bytes_per_token = bench_decode_bytes(m, context + decode_tokens / 2);
    r->decode_fraction_of_bandwidth = r->decode_bytes_per_token * r->decode_tokens_per_s / (r->around.stream_gbs * 1e9);
    return 0;
}

void bench_project(const struct model *m, const struct bench_run *from, int64_t context, struct bench_projection *p)
{
    double flops[PART_COUNT];
    bench_prefill_flops_by_part(m, context, flops);
    p->context = context, p->from_context = from->context, p->prefill_seconds = 0;
    for (int k = 0; k < PART_COUNT; k++) {
        p->part_seconds[k] = k == PART_OTHER           ? from->part_seconds[k] * (double)context / (double)from->context
                             : from->part_flops[k] > 0 ? flops[k] * from->part_seconds[k] / from->part_flops[k]
                                                       : 0;
        p->prefill_seconds += p->part_seconds[k];
    }
    /* The measured decode read decode_bytes_per_token at decode_tokens_per_s. */
    const double measured_rate = from->decode_bytes_per_token * from->decode_tokens_per_s;
    p->decode_step_seconds = bench_decode_bytes(m, context + 16) / measured_rate;
    p->niah_sample_seconds = p->prefill_seconds + 32 * p->decode_step_seconds;
}
