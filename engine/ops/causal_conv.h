/* Causal depthwise convolution over time, as the short convolutions of Gated
 * DeltaNet / Mamba layers (one static kernel per channel) and Jet-Nemotron's
 * dynamic convolution (a kernel generated for every token). Per channel c:
 *
 *   y_t[c] = Σ_{j<K} w_t[c, j] · x_{t−K+1+j}[c]
 *
 * w_t[c, K−1] meets the current token; inputs before the sequence start read
 * as zero. The last K − 1 inputs are kept as a tail, so decode (one token)
 * and chunked prefill continue a sequence exactly. (transformers keeps K
 * inputs; the oldest is never read.) */
#ifndef HYRECALL_CAUSAL_CONV_H
#define HYRECALL_CAUSAL_CONV_H

#include <stddef.h>

/* x, y [n, channels] (y must not alias x); tail [K−1, channels], oldest
 * first, read and updated. w holds the kernels [channels, K] (tap fastest)
 * of token 0; token t's kernels are at w + t·w_token_stride, so a stride of
 * 0 is one static kernel and channels·K a kernel per token. */
void causal_conv_forward(const float *x, int n, int channels, int K, const float *w, size_t w_token_stride, float *tail,
                         float *y);

/* The static case (Qwen3-Next's conv1d). */
static inline void short_conv_forward(const float *x, int n, int channels, int K, const float *w, float *tail, float *y)
{
    causal_conv_forward(x, n, channels, K, w, 0, tail, y);
}

#endif
