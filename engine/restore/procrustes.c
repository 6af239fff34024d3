#include "engine/restore/procrustes.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/ops/cpu.h"

int procrustes_rotation(const double *B, const double *F, int64_t rows, int64_t cols, double *R, double *min_objective)
{
    const int64_t n = cols;
    double *M = malloc((size_t)(n * n) * sizeof *M), *U = malloc((size_t)(n * n) * sizeof *U),
           *Vt = malloc((size_t)(n * n) * sizeof *Vt), *S = malloc((size_t)n * sizeof *S),
           *work = malloc((size_t)(n > 1 ? n : 2) * sizeof *work);
    int rc = -1;
    const int threads = cpu_blas_serial_begin(); /* the same bits on any thread count (cpu.h) */
    if (M && U && Vt && S && work) {
        /* M = Bᵀ F [cols, cols] */
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)n, (int)n, (int)rows, 1.0, B, (int)n, F, (int)n, 0.0,
                    M, (int)n);
        if (LAPACKE_dgesvd(LAPACK_ROW_MAJOR, 'A', 'A', (int)n, (int)n, M, (int)n, S, U, (int)n, Vt, (int)n, work) ==
            0) {
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)n, (int)n, 1.0, U, (int)n, Vt, (int)n,
                        0.0, R, (int)n);
            if (min_objective) {
                double bb = 0, ff = 0, trace = 0;
                for (int64_t i = 0; i < rows * cols; i++) bb += B[i] * B[i], ff += F[i] * F[i];
                for (int64_t i = 0; i < n; i++) trace += S[i];
                *min_objective = bb + ff - 2 * trace;
            }
            rc = 0;
        }
    }
    cpu_blas_serial_end(threads);
    free(M), free(U), free(Vt), free(S), free(work);
    return rc;
}

/* R [n, n] restricted to the index set dims (k of them): V Uᵀ of M's
 * submatrix on those rows and columns. */
static int orthogonal_block(const double *M, int64_t n, const int64_t *dims, int64_t k, double *R)
{
    double *S = malloc((size_t)(k * k) * sizeof *S), *U = malloc((size_t)(k * k) * sizeof *U),
           *Vt = malloc((size_t)(k * k) * sizeof *Vt), *sv = malloc((size_t)k * sizeof *sv),
           *work = malloc((size_t)(k > 1 ? k : 2) * sizeof *work);
    int rc = -1;
    if (S && U && Vt && sv && work) {
        for (int64_t a = 0; a < k; a++)
            for (int64_t b = 0; b < k; b++) S[a * k + b] = M[dims[a] * n + dims[b]];
        if (LAPACKE_dgesvd(LAPACK_ROW_MAJOR, 'A', 'A', (int)k, (int)k, S, (int)k, sv, U, (int)k, Vt, (int)k, work) ==
            0) {
            for (int64_t a = 0; a < k; a++) /* (V Uᵀ)[a][b] = Σ_c Vt[c][a] U[b][c] */
                for (int64_t b = 0; b < k; b++) {
                    double acc = 0;
                    for (int64_t c = 0; c < k; c++) acc += Vt[c * k + a] * U[b * k + c];
                    R[dims[a] * n + dims[b]] = acc;
                }
            rc = 0;
        }
    }
    free(S), free(U), free(Vt), free(sv), free(work);
    return rc;
}

int procrustes_left(const double *A, const double *B, int64_t n, int64_t cols, int rope_dims, double *R)
{
    double *M = malloc((size_t)(n * n) * sizeof *M);
    int64_t *dims = malloc((size_t)n * sizeof *dims);
    if (!M || !dims) return free(M), free(dims), -1;
    const int threads = cpu_blas_serial_begin(); /* the same bits on any thread count (cpu.h) */
    /* M = A Bᵀ [n, n] */
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)n, (int)cols, 1.0, A, (int)cols, B, (int)cols,
                0.0, M, (int)n);
    memset(R, 0, (size_t)(n * n) * sizeof *R);
    const int64_t half = rope_dims / 2;
    for (int64_t i = 0; i < half; i++) {
        const int64_t j = i + half;
        const double phi = atan2(M[i * n + j] - M[j * n + i], M[i * n + i] + M[j * n + j]);
        R[i * n + i] = cos(phi), R[i * n + j] = -sin(phi);
        R[j * n + i] = sin(phi), R[j * n + j] = cos(phi);
    }
    int64_t k = 0;
    for (int64_t i = 2 * half; i < n; i++) dims[k++] = i;
    const int rc = k > 0 ? orthogonal_block(M, n, dims, k, R) : 0;
    cpu_blas_serial_end(threads);
    free(M), free(dims);
    return rc;
}
