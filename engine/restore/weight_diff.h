/* How far fine-tuning moved a weight matrix: the paper's diagnosis is that
 * chain-of-thought fine-tuning bends W_Q and W_K. Two measures:
 *   relative change   ‖A − B‖_F / ‖A‖_F;
 *   subspace angle    the largest principal angle (degrees) between the spans
 *                     of the top-k right singular vectors of A and of B (the
 *                     input directions the projection reads most): with V_A,
 *                     V_B [cols, k] orthonormal, θ = arccos σ_min(V_Aᵀ V_B)
 *                     (Björck & Golub 1973). 0° means the same subspace. */
#ifndef HYRECALL_WEIGHT_DIFF_H
#define HYRECALL_WEIGHT_DIFF_H

#include <stdint.h>

double relative_change(const float *a, const float *b, int64_t n);
/* Returns the angle in degrees, or a negative value if an SVD fails. */
double top_subspace_angle(const float *a, const float *b, int64_t rows, int64_t cols, int k);

#endif
