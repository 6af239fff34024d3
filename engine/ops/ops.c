#include "engine/ops/ops.h"

#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "engine/ops/matvec.h"

/* A batch through W is cut into blocks of output features (linear_block_rows),
 * each one single-threaded OpenBLAS SGEMM, the blocks shared among the OpenMP
 * threads. The cut is a constant, never the thread count: OpenBLAS's own
 * threading splits a GEMM by the number of threads, and its Haswell kernels
 * then round some outputs differently (1 vs 2 threads differed by up to 1e-4
 * in the logits), so each block's call is made inside the parallel region,
 * where OpenBLAS runs it on the calling thread (cpu.h), and every output
 * element is the same call on the same block whatever the threads.
 * A BF16 block is first widened into a float32 buffer kept by each thread and
 * reused (memory_plan counts it: linear_scratch_bytes); every element is the
 * same OpenBLAS dot over all of W.cols as with a float32 copy of W, so BF16
 * storage gives the bits of the same values stored as F32 (test_matvec). */
struct block_buffer {
    float *data;
    int64_t cap; /* floats */
};

/* One buffer per thread, freed when the thread ends (a pthread key's
 * destructor: OpenMP's worker threads come and go with the thread count, and
 * a thread-local pointer would leak their buffers). */
static pthread_key_t block_key;
static pthread_once_t block_key_once = PTHREAD_ONCE_INIT;

static void block_buffer_free(void *p)
{
    struct block_buffer *b = p;
    free(b->data);
    free(b);
}

static void block_key_create(void)
{
    pthread_key_create(&block_key, block_buffer_free);
}

/* The calling thread's buffer, with room for n floats. */
static float *block_buffer(int64_t n)
{
    pthread_once(&block_key_once, block_key_create);
    struct block_buffer *b = pthread_getspecific(block_key);
    if (!b && (b = calloc(1, sizeof *b))) pthread_setspecific(block_key, b);
    if (b && b->cap < n) {
        float *grown = realloc(b->data, (size_t)n * sizeof(float));
        if (!grown) return NULL;
        b->data = grown;
        b->cap = n;
    }
    return b ? b->data : NULL;
}

int64_t linear_block_rows(int64_t rows)
{
    int64_t blocks = (rows + LINEAR_BLOCK_MAX_ROWS - 1) / LINEAR_BLOCK_MAX_ROWS;
    blocks += blocks % 2;
    const int64_t per = (rows + blocks - 1) / blocks;
    return (per + 15) / 16 * 16;
}

static void linear_block(const float *x, int n, const struct weight *W, int64_t r0, int64_t rows, float *y)
{
    const int64_t out = W->rows, in = W->cols;
    const int64_t R = out - r0 < rows ? out - r0 : rows;
    const float *w = W->f32 ? W->f32 + r0 * in : NULL;
    if (!w) {
        float *block_buf = block_buffer(R * in);
        if (!block_buf) {
            fprintf(stderr, "hyrecall: out of memory for a %lld x %lld weight block\n", (long long)R, (long long)in);
            abort();
        }
        weight_rows_to_f32(W, r0, R, block_buf);
        w = block_buf;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, (int)R, (int)in, 1.0f, x, (int)in, w, (int)in, 0.0f, y + r0,
                (int)out);
}

void linear(const float *x, int n, const struct weight *W, const float *bias, float *y)
{
    const int64_t out = W->rows;
    if (n == 1) {
        matvec(W, x, y);
    } else {
        const int64_t rows = linear_block_rows(out), blocks = (out + rows - 1) / rows;
        /* No if-clause: a single block too must be called from inside the
         * region (outside it, OpenBLAS would split it across the threads).
         * Dynamic: blocks are independent, so the schedule cannot change the bits. */
#pragma omp parallel for schedule(dynamic, 1)
        for (int64_t b = 0; b < blocks; b++) linear_block(x, n, W, b * rows, rows, y);
    }
    if (bias)
        for (int t = 0; t < n; t++)
            for (int64_t o = 0; o < out; o++) y[(int64_t)t * out + o] += bias[o];
}

int64_t linear_scratch_bytes(int threads, int64_t max_cols)
{
    return (int64_t)threads * LINEAR_BLOCK_MAX_ROWS * max_cols * (int64_t)sizeof(float);
}

void weight_row(const struct weight *W, int64_t r, float *out)
{
    weight_rows_to_f32(W, r, 1, out);
}

void rmsnorm(const float *x, const float *w, int n, int d, double eps, float *y)
{
#pragma omp parallel for schedule(static) if ((int64_t)n * d >= PARALLEL_MIN_ELEMENTS)
    for (int t = 0; t < n; t++) {
        const float *xr = x + (int64_t)t * d;
        float *yr = y + (int64_t)t * d;
        double ss = 0.0; /* double: the mean of squares is the one reduction that loses bits */
        for (int i = 0; i < d; i++) ss += (double)xr[i] * xr[i];
        float inv = (float)(1.0 / sqrt(ss / d + eps));
        for (int i = 0; i < d; i++) yr[i] = w[i] * (xr[i] * inv);
    }
}

void swiglu(const float *gate, const float *up, int64_t n, float *out)
{
#pragma omp parallel for schedule(static) if (n >= PARALLEL_MIN_ELEMENTS)
    for (int64_t i = 0; i < n; i++) out[i] = silu(gate[i]) * up[i];
}

void silu_inplace(float *x, int64_t n)
{
#pragma omp parallel for schedule(static) if (n >= PARALLEL_MIN_ELEMENTS)
    for (int64_t i = 0; i < n; i++) x[i] = silu(x[i]);
}

void mul_silu_inplace(float *y, const float *gate, int64_t n)
{
#pragma omp parallel for schedule(static) if (n >= PARALLEL_MIN_ELEMENTS)
    for (int64_t i = 0; i < n; i++) y[i] *= silu(gate[i]);
}

void mul_sigmoid_inplace(float *y, const float *gate, int64_t n)
{
#pragma omp parallel for schedule(static) if (n >= PARALLEL_MIN_ELEMENTS)
    for (int64_t i = 0; i < n; i++) y[i] *= sigmoidf(gate[i]);
}

void add_inplace(float *y, const float *x, int64_t n)
{
#pragma omp parallel for schedule(static) if (n >= PARALLEL_MIN_ELEMENTS)
    for (int64_t i = 0; i < n; i++) y[i] += x[i];
}
