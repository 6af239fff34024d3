/* Prefill's projections under --compute bf16, against float32:
 *   f32       linear() as by default: BF16 weights widened block by block into
 *             single-threaded OpenBLAS SGEMMs, shared among the threads;
 *   bf16      linear() under COMPUTE_BF16: x rounded to bfloat16, the same
 *             blocks through oneDNN's matmul on the calling thread (bf16_gemm.h);
 *   onednn    one oneDNN matmul over the whole matrix with its own OpenMP
 *             threads (what linear()'s fixed blocks cost against it), on the
 *             same row-major W (format "ba" of its [K, N] weights);
 *   onednn-packed  the same with weights in the layout oneDNN picks ("any"),
 *             reordered once outside the timing (what a loader could do).
 * (A hand-written AVX512-BF16 kernel was measured here against oneDNN before
 * choosing it: docs/kernel-measurements.md.)
 * For a 512-token batch (the session's micro-batch) through the matrix
 * shapes of HypeNet-2B (hidden 2048, FFN 6144). Timed alternately, best of
 * REPS after a warm-up; GFLOP/s = 2·n·rows·cols / s, and the fraction of
 * this run's SGEMM peak (bench_machine).
 *
 *   bench_bf16_gemm [REPS]     default 7
 */
#include <stdio.h>
#include <stdlib.h>

#include "bench/bench.h"
#include "engine/base/clock.h"
#include "engine/ops/bf16_gemm.h"
#include "engine/ops/cpu.h"
#include "engine/ops/dtype.h"
#include "engine/ops/ops.h"

#include <oneapi/dnnl/dnnl.h>

struct onednn {
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    dnnl_primitive_t prim;
    dnnl_memory_t src, wei, dst;
};

#define DNNL_OK(call)                                                                                                  \
    do {                                                                                                               \
        if ((call) != dnnl_success) {                                                                                  \
            fprintf(stderr, "bench_bf16_gemm: %s failed\n", #call);                                                    \
            exit(1);                                                                                                   \
        }                                                                                                              \
    } while (0)

/* y[n, rows] = x[n, cols] Wᵀ with W [rows, cols] bf16 row-major; packed: the
 * weights reordered into the primitive's preferred layout. */
static void onednn_init(struct onednn *d, int n, int64_t rows, int64_t cols, uint16_t *x, uint16_t *w, float *y,
                        bool packed)
{
    DNNL_OK(dnnl_engine_create(&d->engine, dnnl_cpu, 0));
    DNNL_OK(dnnl_stream_create(&d->stream, d->engine, dnnl_stream_default_flags));
    dnnl_memory_desc_t src_md, wei_md, plain_md, dst_md;
    const dnnl_dims_t sd = {n, cols}, wd = {cols, rows}, dd = {n, rows};
    DNNL_OK(dnnl_memory_desc_init_by_tag(&src_md, 2, sd, dnnl_bf16, dnnl_ab));
    DNNL_OK(dnnl_memory_desc_init_by_tag(&plain_md, 2, wd, dnnl_bf16, dnnl_ba)); /* W row-major = [K, N] "ba" */
    DNNL_OK(dnnl_memory_desc_init_by_tag(&dst_md, 2, dd, dnnl_f32, dnnl_ab));
    if (packed)
        DNNL_OK(dnnl_memory_desc_init_by_tag(&wei_md, 2, wd, dnnl_bf16, dnnl_format_tag_any));
    else
        wei_md = plain_md;
    dnnl_matmul_desc_t md;
    DNNL_OK(dnnl_matmul_desc_init(&md, &src_md, &wei_md, NULL, &dst_md));
    dnnl_primitive_desc_t pd;
    DNNL_OK(dnnl_primitive_desc_create(&pd, &md, NULL, d->engine, NULL));
    const char *impl = NULL;
    DNNL_OK(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl));
    printf("    oneDNN %s: %s\n", packed ? "packed" : "plain", impl);
    DNNL_OK(dnnl_primitive_create(&d->prim, pd));
    DNNL_OK(dnnl_memory_create(&d->src, &src_md, d->engine, x));
    DNNL_OK(dnnl_memory_create(&d->dst, &dst_md, d->engine, y));
    dnnl_memory_t plain;
    DNNL_OK(dnnl_memory_create(&plain, &plain_md, d->engine, w));
    if (packed) {
        const dnnl_memory_desc_t *want = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
        DNNL_OK(dnnl_memory_create(&d->wei, want, d->engine, DNNL_MEMORY_ALLOCATE));
        dnnl_primitive_desc_t rpd;
        DNNL_OK(dnnl_reorder_primitive_desc_create(&rpd, &plain_md, d->engine, want, d->engine, NULL));
        dnnl_primitive_t reorder;
        DNNL_OK(dnnl_primitive_create(&reorder, rpd));
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, plain}, {DNNL_ARG_TO, d->wei}};
        DNNL_OK(dnnl_primitive_execute(reorder, d->stream, 2, args));
        DNNL_OK(dnnl_stream_wait(d->stream));
        dnnl_primitive_destroy(reorder);
        dnnl_primitive_desc_destroy(rpd);
        dnnl_memory_destroy(plain);
    } else {
        d->wei = plain;
    }
    dnnl_primitive_desc_destroy(pd);
}

static void onednn_run(struct onednn *d)
{
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, d->src}, {DNNL_ARG_WEIGHTS, d->wei}, {DNNL_ARG_DST, d->dst}};
    DNNL_OK(dnnl_primitive_execute(d->prim, d->stream, 3, args));
    DNNL_OK(dnnl_stream_wait(d->stream));
}

static void onednn_free(struct onednn *d)
{
    dnnl_primitive_destroy(d->prim);
    dnnl_memory_destroy(d->src), dnnl_memory_destroy(d->wei), dnnl_memory_destroy(d->dst);
    dnnl_stream_destroy(d->stream), dnnl_engine_destroy(d->engine);
}

enum { F32, BF16, ONEDNN, ONEDNN_PACKED, KINDS };
static const char *const kind_names[KINDS] = {"f32", "bf16", "onednn", "onednn-packed"};

int main(int argc, char **argv)
{
    cpu_select_openblas_core(argv);
    const int reps = argc > 1 ? atoi(argv[1]) : 7, n = 512;
    struct machine_limits lim;
    bench_machine(&lim);
    struct hr_error e;
    if (linear_set_compute(COMPUTE_BF16, &e)) {
        fprintf(stderr, "bench_bf16_gemm: %s\n", e.msg);
        return 1;
    }
    printf("bench_bf16_gemm: %d threads, OpenBLAS core %s, SGEMM peak %.0f GFLOP/s, oneDNN bf16 matmul %s, n = %d\n",
           cpu_threads(), cpu_openblas_core(), lim.sgemm_gflops, bf16_gemm_isa(), n);
    const int64_t shapes[][2] = {{6144, 2048}, {2048, 6144}, {2048, 2048}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        const int64_t rows = shapes[s][0], cols = shapes[s][1];
        uint16_t *w = malloc((size_t)(rows * cols) * sizeof *w), *xb = malloc((size_t)(n * cols) * sizeof *xb);
        float *x = malloc((size_t)(n * cols) * sizeof *x), *y = malloc((size_t)(n * rows) * sizeof *y);
        uint64_t seed = 7;
        for (int64_t i = 0; i < rows * cols; i++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            w[i] = f32_to_bf16((float)((seed >> 40) * (1.0 / 16777216.0)) - 0.5f);
        }
        for (int64_t i = 0; i < n * cols; i++) x[i] = (float)(i % 7) * 0.1f - 0.3f;
        bf16_round(x, n * cols, xb);
        const struct weight W = {.bf16 = w, .rows = rows, .cols = cols};
        struct workspace ws = {0};
        /* linear_workspace_floats under bf16 compute is the larger of the two */
        if (workspace_reserve(&ws, cpu_threads(), linear_workspace_floats(n, cols))) return 1;
        if (workspace_reserve(&ws, cpu_threads(), LINEAR_BLOCK_MAX_ROWS * cols)) return 1;
        printf("  %lld x %lld:\n", (long long)rows, (long long)cols);
        struct onednn plain, packed;
        onednn_init(&plain, n, rows, cols, xb, w, y, false);
        onednn_init(&packed, n, rows, cols, xb, w, y, true);
        const int kinds = KINDS;
        double best[KINDS];
        for (int k = 0; k < KINDS; k++) best[k] = 1e30;
        for (int r = 0; r < reps; r++)
            for (int k = 0; k < kinds; k++) {
                const double t0 = clock_seconds();
                if (k == F32 || k == BF16) {
                    linear_set_compute(k == BF16 ? COMPUTE_BF16 : COMPUTE_F32, &e);
                    linear(x, n, &W, NULL, y, &ws);
                }
                if (k == ONEDNN) onednn_run(&plain);
                if (k == ONEDNN_PACKED) onednn_run(&packed);
                const double dt = clock_seconds() - t0;
                if (r > 0 && dt < best[k]) best[k] = dt;
            }
        const double flops = 2.0 * n * (double)rows * (double)cols;
        for (int k = 0; k < kinds; k++)
            printf("    %-14s %8.2f ms  %7.1f GFLOP/s  %5.2f of the SGEMM peak  %4.2fx f32\n", kind_names[k],
                   best[k] * 1e3, flops / best[k] * 1e-9, flops / best[k] * 1e-9 / lim.sgemm_gflops,
                   best[F32] / best[k]);
        onednn_free(&plain), onednn_free(&packed);
        workspace_free(&ws);
        free(w), free(xb), free(x), free(y);
    }
    return 0;
}
