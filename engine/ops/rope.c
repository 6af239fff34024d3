#include "engine/ops/rope.h"

#include <math.h>
#include <stdlib.h>

int rope_table_init(struct rope_table *r, int max_n, int rotary_dim)
{
    r->half = rotary_dim / 2;
    r->n = 0;
    r->cos = malloc((size_t)max_n * (size_t)r->half * sizeof(float));
    r->sin = malloc((size_t)max_n * (size_t)r->half * sizeof(float));
    return (r->cos && r->sin) ? 0 : -1;
}

void rope_table_free(struct rope_table *r)
{
    free(r->cos);
    free(r->sin);
    r->cos = r->sin = NULL;
}

/* Mirrors transformers' float32 arithmetic so that long positions agree:
 * inv_freq_i = 1 / theta^(2i/d) rounded to float32 (divided by the factor for
 * linear scaling), angle = float32(pos) * inv_freq_i rounded to float32, then
 * cos and sin of that float32 angle. */
void rope_table_fill(struct rope_table *r, double theta, double linear_factor, int64_t pos0, int n)
{
    const int half = r->half, d = 2 * half;
    r->n = n;
    for (int i = 0; i < half; i++) {
        float inv_freq = (float)(1.0 / pow(theta, (double)(2 * i) / d));
        if (linear_factor != 0) inv_freq = inv_freq / (float)linear_factor;
        for (int t = 0; t < n; t++) {
            float angle = (float)(pos0 + t) * inv_freq;
            r->cos[(int64_t)t * half + i] = (float)cos((double)angle);
            r->sin[(int64_t)t * half + i] = (float)sin((double)angle);
        }
    }
}

void rope_apply(const struct rope_table *r, float *x, int n, int heads, int head_dim)
{
    const int half = r->half;
    for (int t = 0; t < n; t++) {
        const float *c = r->cos + (int64_t)t * half, *s = r->sin + (int64_t)t * half;
        for (int h = 0; h < heads; h++) {
            float *v = x + ((int64_t)t * heads + h) * head_dim;
            for (int i = 0; i < half; i++) {
                float a = v[i], b = v[i + half];
                v[i] = a * c[i] - b * s[i];
                v[i + half] = b * c[i] + a * s[i];
            }
        }
    }
}
