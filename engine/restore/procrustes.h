/* Orthogonal Procrustes (Schönemann 1966): the rotation R that best maps B
 * onto F,
 *   R* = argmin_{RᵀR = I} ‖B R − F‖_F,   R* = U Vᵀ where Bᵀ F = U Σ Vᵀ,
 * and the attained minimum ‖B‖² + ‖F‖² − 2 tr Σ. In double precision, SVD by
 * LAPACKE_dgesvd. B and F are [rows, cols] row-major; R is [cols, cols]. */
#ifndef HYRECALL_PROCRUSTES_H
#define HYRECALL_PROCRUSTES_H

#include <stdint.h>

/* Returns 0, or -1 if the SVD does not converge. min_objective may be NULL. */
int procrustes_rotation(const double *B, const double *F, int64_t rows, int64_t cols, double *R, double *min_objective);

/* The output-side problem: R* = argmin ‖R A − B‖_F over orthogonal R [n, n]
 * acting on the left of A, B [n, cols]; with M = A Bᵀ = U Σ Vᵀ, R* = V Uᵀ.
 * rope_dims > 0 restricts R to the rotations that commute with every RoPE
 * rotation (rope.h's rotate_half layout: dimension i < rope_dims/2 pairs with
 * i + rope_dims/2, each pair turned by its own frequency): for distinct
 * frequencies those are one 2-D rotation per pair, angle
 *   φ_i = atan2(M[i][j] − M[j][i], M[i][i] + M[j][j]),  j = i + rope_dims/2
 * (the maximiser of tr(R_i M_i) = cos φ (M_ii + M_jj) + sin φ (M_ij − M_ji)),
 * and any orthogonal block on the dimensions RoPE leaves alone (rope_dims ..
 * n − 1), solved as above. Returns 0, or -1 if an SVD does not converge. */
int procrustes_left(const double *A, const double *B, int64_t n, int64_t cols, int rope_dims, double *R);

#endif
