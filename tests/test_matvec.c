/* The weight-streaming kernels (engine/ops/matvec.c) and linear()'s BF16 blocks
 * against their naive forms:
 *   - matvec (AVX-512 path where the CPU has it) equals the portable path bit
 *     for bit, and a double-precision dot within the float32 rounding bound
 *     n · 2⁻²⁴ · Σ|w x| (Higham, Accuracy and Stability, §3.1);
 *   - BF16 storage gives the same bits as the same values stored as float32,
 *     for the matvec and for linear() on a batch (BF16 blocks widened into
 *     SGEMM against the same blocks read from the float32 copy);
 *   - one thread and two threads give the same bits (linear(): 1, 2, 3, 5);
 *   - weight_row widens a BF16 row exactly.
 * Shapes cover tails (cols not a multiple of 16, rows not of 4), matrices
 * below and above the size that goes parallel, and several blocks of W. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/ops/cpu.h"
#include "engine/ops/dtype.h"
#include "engine/ops/matvec.h"
#include "engine/ops/ops.h"
#include "tests/test_util.h"

static float frand(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((*s >> 40) * (1.0 / 16777216.0)) - 0.5f;
}

struct pair {
    uint16_t *bf16;
    float *f32; /* the same values, widened */
    struct weight as_bf16, as_f32;
};

static struct pair make_pair(int64_t rows, int64_t cols, uint64_t seed)
{
    struct pair p;
    p.bf16 = malloc((size_t)(rows * cols) * sizeof(uint16_t));
    p.f32 = malloc((size_t)(rows * cols) * sizeof(float));
    for (int64_t i = 0; i < rows * cols; i++) {
        p.bf16[i] = f32_to_bf16(frand(&seed));
        p.f32[i] = bf16_to_f32(p.bf16[i]);
    }
    p.as_bf16 = (struct weight){.bf16 = p.bf16, .rows = rows, .cols = cols};
    p.as_f32 = (struct weight){.f32 = p.f32, .rows = rows, .cols = cols};
    return p;
}

static void free_pair(struct pair *p)
{
    free(p->bf16), free(p->f32);
}

static bool same_bits(const float *a, const float *b, int64_t n)
{
    return memcmp(a, b, (size_t)n * sizeof(float)) == 0;
}

static void check_matvec(int64_t rows, int64_t cols)
{
    uint64_t seed = (uint64_t)(rows * 7919 + cols);
    struct pair p = make_pair(rows, cols, seed);
    float *x = malloc((size_t)cols * sizeof(float));
    for (int64_t k = 0; k < cols; k++) x[k] = frand(&seed);
    float *y = malloc((size_t)rows * sizeof(float)), *y_f32 = malloc((size_t)rows * sizeof(float));
    float *y_portable = malloc((size_t)rows * sizeof(float)), *y_one = malloc((size_t)rows * sizeof(float));

    cpu_set_threads(2);
    matvec(&p.as_bf16, x, y);
    matvec(&p.as_f32, x, y_f32);
    matvec_portable(&p.as_bf16, x, y_portable);
    cpu_set_threads(1);
    matvec(&p.as_bf16, x, y_one);
    cpu_set_threads(2);

    double worst = 0; /* error over its bound */
    for (int64_t r = 0; r < rows; r++) {
        double dot = 0, mag = 0;
        for (int64_t k = 0; k < cols; k++) {
            dot += (double)p.f32[r * cols + k] * x[k];
            mag += fabs((double)p.f32[r * cols + k] * x[k]);
        }
        const double bound = (double)cols * 0x1p-24 * mag + 1e-30;
        worst = fmax(worst, fabs(y[r] - dot) / bound);
    }
    printf("  matvec %5lld x %5lld: error / bound %.3f; BF16 = F32 storage %s, AVX-512 = portable %s, "
           "1 thread = 2 %s\n",
           (long long)rows, (long long)cols, worst, same_bits(y, y_f32, rows) ? "yes" : "NO",
           same_bits(y, y_portable, rows) ? "yes" : "NO", same_bits(y, y_one, rows) ? "yes" : "NO");
    CHECK(worst <= 1.0, "matvec %lldx%lld: error %.3f times its bound", (long long)rows, (long long)cols, worst);
    CHECK(same_bits(y, y_f32, rows), "matvec: BF16 and F32 storage differ");
    CHECK(same_bits(y, y_portable, rows), "matvec: AVX-512 and portable paths differ");
    CHECK(same_bits(y, y_one, rows), "matvec: 1 and 2 threads differ");
    free(x), free(y), free(y_f32), free(y_portable), free(y_one);
    free_pair(&p);
}

/* A batch: BF16 blocks widened into SGEMM against the float32 copy (the same
 * bits), both within the float32 bound of a double-precision dot, and the
 * same bits on 1, 2, 3 and 5 threads (the blocks are W's, not the threads'). */
static void check_linear_batch(int n, int64_t rows, int64_t cols)
{
    uint64_t seed = (uint64_t)(n * 31 + rows * 7 + cols);
    struct pair p = make_pair(rows, cols, seed);
    float *x = malloc((size_t)(n * cols) * sizeof(float));
    for (int64_t i = 0; i < n * cols; i++) x[i] = frand(&seed);
    float *bias = malloc((size_t)rows * sizeof(float));
    for (int64_t r = 0; r < rows; r++) bias[r] = frand(&seed);
    float *y = malloc((size_t)(n * rows) * sizeof(float)), *y_f32 = malloc((size_t)(n * rows) * sizeof(float));
    float *y_threads = malloc((size_t)(n * rows) * sizeof(float));
    bool same_threads = true;
    const int thread_counts[] = {1, 3, 5, 2}; /* 2 last: the rest of the test runs on 2 */
    struct workspace ws = {0};
    CHECK(workspace_reserve(&ws, 5, linear_workspace_floats(2, cols)) == 0, "workspace");
    for (int i = 0; i < 4; i++) {
        cpu_set_threads(thread_counts[i]);
        linear(x, n, &p.as_bf16, bias, y_threads, &ws);
        if (i == 0) memcpy(y, y_threads, (size_t)(n * rows) * sizeof(float));
        same_threads &= same_bits(y, y_threads, n * rows);
    }
    CHECK(same_threads, "linear n=%d %lldx%lld: thread counts 1, 3, 5, 2 differ", n, (long long)rows, (long long)cols);
    linear(x, n, &p.as_f32, bias, y_f32, &ws);
    /* Out of memory is an error value at the reservation, which leaves the workspace as it was. */
    const struct workspace before = ws;
    CHECK(workspace_reserve(&ws, 2, INT64_C(1) << 50) == -1 && ws.data == before.data && ws.slice == before.slice,
          "an impossible workspace was not refused cleanly");
    CHECK(workspace_reserve(&ws, 4, INT64_C(1) << 62) == -1 && ws.data == before.data, "an overflowing size accepted");
    workspace_free(&ws);
    double worst = 0;
    for (int t = 0; t < n; t++)
        for (int64_t r = 0; r < rows; r += rows / 7 + 1) { /* a sample of rows against a double dot */
            double dot = bias[r], mag = fabs(bias[r]);
            for (int64_t k = 0; k < cols; k++) {
                dot += (double)p.f32[r * cols + k] * x[t * cols + k];
                mag += fabs((double)p.f32[r * cols + k] * x[t * cols + k]);
            }
            worst = fmax(worst, fabs(y[t * rows + r] - dot) / ((double)(cols + 1) * 0x1p-24 * mag + 1e-30));
        }
    const bool same = same_bits(y, y_f32, n * rows);
    printf("  linear n=%3d %5lld x %5lld (blocks of %lld rows): BF16 = F32 %s, threads 1/3/5/2 %s, error / bound "
           "%.3f\n",
           n, (long long)rows, (long long)cols, (long long)linear_block_rows(rows), same ? "yes" : "NO",
           same_threads ? "same bits" : "DIFFER", worst);
    CHECK(same, "linear n=%d %lldx%lld: BF16 blocks differ from float32 storage", n, (long long)rows, (long long)cols);
    CHECK(worst <= 1.0, "linear: error %.3f times its bound", worst);
    free(x), free(bias), free(y), free(y_f32), free(y_threads);
    free_pair(&p);
}

/* The cut of W: an even number of blocks of at most LINEAR_BLOCK_MAX_ROWS
 * rows, multiples of 16, covering every row, the last block not empty. */
static void check_block_rows(void)
{
    for (int64_t rows = 1; rows <= 20000; rows += rows < 2100 ? 1 : 97) {
        const int64_t per = linear_block_rows(rows), blocks = (rows + per - 1) / per;
        CHECK(per % 16 == 0 && per <= LINEAR_BLOCK_MAX_ROWS && (blocks % 2 == 0 || blocks == 1) &&
                  (blocks - 1) * per < rows,
              "linear_block_rows(%lld) = %lld: %lld blocks", (long long)rows, (long long)per, (long long)blocks);
    }
    CHECK(linear_block_rows(1536) == 768 && linear_block_rows(8960) == 896 && linear_block_rows(2048) == 1024,
          "linear_block_rows: 1536 -> %lld, 8960 -> %lld, 2048 -> %lld", (long long)linear_block_rows(1536),
          (long long)linear_block_rows(8960), (long long)linear_block_rows(2048));
}

static void check_weight_row(void)
{
    struct pair p = make_pair(5, 37, 99);
    float row[37];
    weight_row(&p.as_bf16, 3, row);
    CHECK(same_bits(row, p.f32 + 3 * 37, 37), "weight_row: BF16 row not widened exactly");
    free_pair(&p);
}

int main(int argc, char **argv)
{
    (void)argc;
    cpu_select_openblas_core(argv);
    printf("matvec path: %s\n", matvec_uses_avx512() ? "AVX-512" : "portable");
    const int64_t shapes[][2] = {{1, 1},   {3, 15},     {4, 16},      {5, 17},    {7, 100},
                                 {64, 64}, {333, 1000}, {1024, 2048}, {517, 4097}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) check_matvec(shapes[i][0], shapes[i][1]);
    check_linear_batch(2, 9, 33);
    check_linear_batch(17, 300, 64);
    check_linear_batch(8, 9000, 4096); /* ten blocks of 912 rows, the last 792 */
    check_linear_batch(3, 1030, 7000); /* two blocks of 528 and 502 */
    check_linear_batch(3, 70, 40000);  /* one block */
    check_block_rows();
    check_weight_row();
    return test_finish("test_matvec");
}
