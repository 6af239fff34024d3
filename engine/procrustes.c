#include "procrustes.h"

#include <cblas.h>
#include <lapacke.h>
#include <stdlib.h>

#include "cpu.h"

int procrustes_rotation(const double *B, const double *F, int64_t rows, int64_t cols, double *R,
                        double *min_objective)
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
        if (LAPACKE_dgesvd(LAPACK_ROW_MAJOR, 'A', 'A', (int)n, (int)n, M, (int)n, S, U, (int)n, Vt, (int)n, work) == 0) {
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
