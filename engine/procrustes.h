/* Orthogonal Procrustes (Schönemann 1966): the rotation R that best maps B
 * onto F,
 *   R* = argmin_{RᵀR = I} ‖B R − F‖_F,   R* = U Vᵀ where Bᵀ F = U Σ Vᵀ,
 * and the attained minimum ‖B‖² + ‖F‖² − 2 tr Σ. In double precision, SVD by
 * LAPACKE_dgesvd. B and F are [rows, cols] row-major; R is [cols, cols]. */
#ifndef HYRECALL_PROCRUSTES_H
#define HYRECALL_PROCRUSTES_H

#include <stdint.h>

/* Returns 0, or -1 if the SVD does not converge. min_objective may be NULL. */
int procrustes_rotation(const double *B, const double *F, int64_t rows, int64_t cols, double *R,
                        double *min_objective);

#endif
