#include "engine/restore/weight_diff.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>

#include "engine/ops/cpu.h"

double relative_change(const float *a, const float *b, int64_t n)
{
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)a[i] - b[i];
        num += d * d;
        den += (double)a[i] * a[i];
    }
    return den > 0 ? sqrt(num / den) : (num > 0 ? INFINITY : 0);
}

/* The top-k right singular vectors of x [rows, cols] as columns of V [cols, k]. */
static int top_right_vectors(const float *x, int64_t rows, int64_t cols, int k, double *V)
{
    const int64_t m = rows, n = cols, mn = m < n ? m : n;
    double *A = malloc((size_t)(m * n) * sizeof *A), *S = malloc((size_t)mn * sizeof *S),
           *Vt = malloc((size_t)(mn * n) * sizeof *Vt), *superb = malloc((size_t)(mn > 1 ? mn : 2) * sizeof *superb);
    int rc = -1;
    if (A && S && Vt && superb) {
        for (int64_t i = 0; i < m * n; i++) A[i] = x[i];
        if (LAPACKE_dgesvd(LAPACK_ROW_MAJOR, 'N', 'S', (int)m, (int)n, A, (int)n, S, NULL, 1, Vt, (int)n, superb) ==
            0) {
            for (int j = 0; j < k; j++)
                for (int64_t c = 0; c < n; c++) V[c * k + j] = Vt[(int64_t)j * n + c];
            rc = 0;
        }
    }
    free(A), free(S), free(Vt), free(superb);
    return rc;
}

double top_subspace_angle(const float *a, const float *b, int64_t rows, int64_t cols, int k)
{
    const int64_t mn = rows < cols ? rows : cols;
    if (k > mn) k = (int)mn;
    double *Va = malloc((size_t)(cols * k) * sizeof *Va), *Vb = malloc((size_t)(cols * k) * sizeof *Vb),
           *M = malloc((size_t)k * k * sizeof *M), *S = malloc((size_t)k * sizeof *S),
           *superb = malloc((size_t)(k > 1 ? k : 2) * sizeof *superb);
    double angle = -1;
    const int threads = cpu_blas_serial_begin(); /* the same bits on any thread count (cpu.h) */
    if (Va && Vb && M && S && superb && top_right_vectors(a, rows, cols, k, Va) == 0 &&
        top_right_vectors(b, rows, cols, k, Vb) == 0) {
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, k, k, (int)cols, 1.0, Va, k, Vb, k, 0.0, M, k);
        if (LAPACKE_dgesvd(LAPACK_ROW_MAJOR, 'N', 'N', k, k, M, k, S, NULL, 1, NULL, 1, superb) == 0) {
            double c = S[k - 1] > 1 ? 1 : S[k - 1];
            angle = acos(c) * 180.0 / M_PI;
        }
    }
    cpu_blas_serial_end(threads);
    free(Va), free(Vb), free(M), free(S), free(superb);
    return angle;
}
