/* The causal depthwise short convolution of Gated DeltaNet / Mamba layers:
 * per channel c, y_t[c] = Σ_{j<K} w[c, j] · x_{t−K+1+j}[c] (w[c, K−1] meets the
 * current token), inputs before the sequence start read as zero. The last
 * K − 1 inputs are kept as a tail, so decode and chunked prefill continue the
 * sequence exactly (transformers keeps K; the oldest is never read). */
#ifndef HYRECALL_SHORT_CONV_H
#define HYRECALL_SHORT_CONV_H

/* x, y [n, channels]; w [channels, K]; tail [K−1, channels] oldest first,
 * read and updated. y must not alias x. */
void short_conv_forward(const float *x, int n, int channels, int K, const float *w, float *tail, float *y);

#endif
