/* The weight kernels, BF16 storage against float32:
 *  1. decode's weight streaming: GB/s of weights read by hyrecall's matvec
 *     (engine/ops/matvec.h) for float32 and BF16 storage, next to OpenBLAS's
 *     float32 GEMV over the same matrix (the bandwidth `hyrecall bench`
 *     divides by);
 *  2. prefill's projections: linear() on a 512-token batch (the session's
 *     micro-batch) for the matrix shapes of a 2B model, BF16 (row panels
 *     widened into SGEMM) against float32 (one SGEMM), timed alternately so
 *     that a noisy machine affects both alike.
 *
 *   bench_matvec [ROWS COLS] [REPS]        default 16384 x 16384 (1 GiB as float32), 6 reps
 *
 * Prints the best of REPS (the first is a warm-up) for each kernel. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "engine/base/clock.h"
#include "engine/ops/cpu.h"
#include "engine/ops/dtype.h"
#include "engine/ops/matvec.h"
#include "engine/ops/ops.h"

static double best_of(int reps, void (*run)(void *), void *arg)
{
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        const double t0 = clock_seconds();
        run(arg);
        const double dt = clock_seconds() - t0;
        if (r > 0 && dt < best) best = dt;
    }
    return best;
}

struct job {
    struct weight W;
    const float *x;
    float *y;
};

static void run_matvec(void *p)
{
    struct job *j = p;
    matvec(&j->W, j->x, j->y);
}

static void run_sgemv(void *p)
{
    struct job *j = p;
    const int rows = (int)j->W.rows, cols = (int)j->W.cols;
    cblas_sgemv(CblasRowMajor, CblasNoTrans, rows, cols, 1.0f, j->W.f32, cols, j->x, 1, 0.0f, j->y, 1);
}

int main(int argc, char **argv)
{
    cpu_select_openblas_core(argv);
    const int64_t rows = argc > 2 ? atoll(argv[1]) : 16384, cols = argc > 2 ? atoll(argv[2]) : 16384;
    const int reps = argc > 3 ? atoi(argv[3]) : argc == 2 ? atoi(argv[1]) : 6;
    if (rows <= 0 || cols <= 0 || reps < 2) {
        fprintf(stderr, "usage: bench_matvec [ROWS COLS] [REPS >= 2]\n");
        return 2;
    }
    const int64_t n = rows * cols;
    float *f32 = malloc((size_t)n * sizeof(float));
    uint16_t *bf16 = malloc((size_t)n * sizeof(uint16_t));
    float *x = malloc((size_t)cols * sizeof(float)), *y = malloc((size_t)rows * sizeof(float));
    if (!f32 || !bf16 || !x || !y) {
        fprintf(stderr, "bench_matvec: out of memory for a %lld x %lld matrix\n", (long long)rows, (long long)cols);
        return 1;
    }
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) {
        bf16[i] = f32_to_bf16((float)(i % 13) * 0.01f - 0.06f);
        f32[i] = bf16_to_f32(bf16[i]);
    }
    for (int64_t k = 0; k < cols; k++) x[k] = 1.0f / (float)(1 + k % 7);

    struct job j32 = {{.f32 = f32, .rows = rows, .cols = cols}, x, y};
    struct job j16 = {{.bf16 = bf16, .rows = rows, .cols = cols}, x, y};
    const double t_blas = best_of(reps, run_sgemv, &j32);
    const double t_f32 = best_of(reps, run_matvec, &j32);
    const double t_bf16 = best_of(reps, run_matvec, &j16);
    printf("matrix %lld x %lld, %d threads, matvec path %s, OpenBLAS core %s\n", (long long)rows, (long long)cols,
           cpu_threads(), matvec_uses_avx512() ? "AVX-512" : "portable", cpu_openblas_core());
    printf("  OpenBLAS sgemv, float32   %7.2f ms  %6.1f GB/s\n", t_blas * 1e3, 4.0 * n / t_blas / 1e9);
    printf("  hyrecall matvec, float32  %7.2f ms  %6.1f GB/s\n", t_f32 * 1e3, 4.0 * n / t_f32 / 1e9);
    printf("  hyrecall matvec, BF16     %7.2f ms  %6.1f GB/s  (%.2fx the float32 matvec's speed)\n", t_bf16 * 1e3,
           2.0 * n / t_bf16 / 1e9, t_f32 / t_bf16);
    free(f32), free(bf16), free(x), free(y);

    /* 2. Prefill: [out, in] shapes of HypeNet-2B (2048, 6144) and Jet-Nemotron-2B (1536, 8960). */
    const int64_t shapes[][2] = {{6144, 2048}, {2048, 6144}, {8960, 1536}, {1536, 8960}};
    const int batch = 512;
    printf("linear() on %d tokens, best of %d, alternating:\n", batch, reps);
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const int64_t out = shapes[i][0], in = shapes[i][1];
        struct weight W32 = {.f32 = malloc((size_t)(out * in) * sizeof(float)), .rows = out, .cols = in};
        uint16_t *w16 = malloc((size_t)(out * in) * sizeof(uint16_t));
        struct weight W16 = {.bf16 = w16, .rows = out, .cols = in};
        float *xb = malloc((size_t)(batch * in) * sizeof(float)), *yb = malloc((size_t)(batch * out) * sizeof(float));
        for (int64_t k = 0; k < out * in; k++) {
            w16[k] = f32_to_bf16((float)(k % 11) * 0.01f - 0.05f);
            ((float *)W32.f32)[k] = bf16_to_f32(w16[k]);
        }
        for (int64_t k = 0; k < batch * in; k++) xb[k] = (float)(k % 5) * 0.1f;
        double b32 = 1e30, b16 = 1e30;
        struct workspace ws = {0};
        if (workspace_reserve(&ws, cpu_threads(), linear_workspace_floats(2, in))) return 1;
        for (int r = 0; r < reps; r++) {
            double t0 = clock_seconds();
            linear(xb, batch, &W32, NULL, yb, &ws);
            const double d32 = clock_seconds() - t0;
            t0 = clock_seconds();
            linear(xb, batch, &W16, NULL, yb, &ws);
            const double d16 = clock_seconds() - t0;
            if (r > 0) b32 = d32 < b32 ? d32 : b32, b16 = d16 < b16 ? d16 : b16;
        }
        const double flops = 2.0 * batch * (double)out * (double)in;
        printf("  %5lld x %5lld  float32 %6.1f GFLOP/s   BF16 panels %6.1f GFLOP/s  (%.0f %%)\n", (long long)out,
               (long long)in, flops / b32 / 1e9, flops / b16 / 1e9, 100.0 * b32 / b16);
        free((void *)W32.f32), free(w16), free(xb), free(yb);
        workspace_free(&ws);
    }
    return 0;
}
