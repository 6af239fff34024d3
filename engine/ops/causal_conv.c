#include "engine/ops/causal_conv.h"

#include "engine/ops/ops.h" /* PARALLEL_MIN_ELEMENTS */

#include <stdint.h>
#include <string.h>

void causal_conv_forward(const float *x, int n, int channels, int K, const float *w, size_t w_token_stride, float *tail,
                         float *y)
{
    const int H = K - 1; /* history length */
    /* Tokens are independent given x and the old tail (updated after). */
#pragma omp parallel for schedule(static) if ((int64_t)n * channels >= PARALLEL_MIN_ELEMENTS)
    for (int t = 0; t < n; t++) {
        const float *wt = w + (size_t)t * w_token_stride;
        for (int c = 0; c < channels; c++) {
            float acc = 0;
            for (int j = 0; j < K; j++) {
                int src = t - H + j; /* index into x; negative reads the tail */
                float xv = src >= 0 ? x[(size_t)src * channels + c] : tail[(size_t)(H + src) * channels + c];
                acc += wt[(size_t)c * K + j] * xv;
            }
            y[(size_t)t * channels + c] = acc;
        }
    }
    /* New tail: the last H inputs of (old tail ++ x). */
    for (int r = 0; r < H; r++) {
        int src = n - H + r;
        if (src >= 0)
            memcpy(tail + (size_t)r * channels, x + (size_t)src * channels, (size_t)channels * sizeof(float));
        else
            memmove(tail + (size_t)r * channels, tail + (size_t)(r + n) * channels, (size_t)channels * sizeof(float));
    }
}
