#include "attention.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

int kv_cache_init(struct kv_cache *c, int window, int kv_heads, int head_dim)
{
    memset(c, 0, sizeof *c);
    c->window = window;
    c->kv_heads = kv_heads;
    c->head_dim = head_dim;
    return 0;
}

void kv_cache_free(struct kv_cache *c)
{
    free(c->k);
    free(c->v);
    c->k = c->v = NULL;
    c->slots = 0;
}

int64_t kv_cache_bytes_for(int window, int kv_heads, int head_dim, int64_t n)
{
    int64_t slots = window > 0 && window < n ? window : n;
    return 2 * slots * kv_heads * head_dim * (int64_t)sizeof(float);
}

static int reserve(struct kv_cache *c, int64_t needed)
{
    if (c->window > 0) needed = c->window;
    if (needed <= c->slots) return 0;
    int64_t slots = c->window > 0 ? c->window : (c->slots ? c->slots : 256);
    while (slots < needed) slots *= 2;
    size_t row = (size_t)c->kv_heads * c->head_dim * sizeof(float);
    float *k = realloc(c->k, (size_t)slots * row), *v = k ? realloc(c->v, (size_t)slots * row) : NULL;
    if (k) c->k = k;
    if (v) c->v = v;
    if (!k || !v) return -1;
    c->slots = slots;
    return 0;
}

/* Row of keys (or values) at position j: from the batch when j >= pos0, else
 * from its cache slot. */
static inline const float *kv_row(const struct kv_cache *c, const float *cache, const float *batch, int64_t pos0,
                                  int64_t j)
{
    const int64_t row = (int64_t)c->kv_heads * c->head_dim;
    if (j >= pos0) return batch + (j - pos0) * row;
    int64_t slot = c->window > 0 ? j % c->window : j;
    return cache + slot * row;
}

/* One query row of one head: scores, float32 softmax with the max subtracted,
 * weighted sum of values. scores has room for the whole visible span. */
static void attend_one(const struct kv_cache *c, const float *qh, const float *k, const float *v, int64_t pos0,
                       int64_t t, int kvh, float scale, float *scores, float *oh)
{
    const int d = c->head_dim;
    const int64_t lo = c->window > 0 && t - c->window + 1 > 0 ? t - c->window + 1 : 0;
    const int64_t span = t - lo + 1;
    float m = -INFINITY;
    for (int64_t j = 0; j < span; j++) {
        const float *kj = kv_row(c, c->k, k, pos0, lo + j) + (int64_t)kvh * d;
        scores[j] = dot_f32(qh, kj, d) * scale;
        if (scores[j] > m) m = scores[j];
    }
    double sum = 0.0;
    for (int64_t j = 0; j < span; j++) {
        scores[j] = expf(scores[j] - m);
        sum += scores[j];
    }
    const float inv = (float)(1.0 / sum);
    memset(oh, 0, (size_t)d * sizeof(float));
    for (int64_t j = 0; j < span; j++) {
        const float *vj = kv_row(c, c->v, v, pos0, lo + j) + (int64_t)kvh * d;
        axpy_f32(scores[j] * inv, vj, oh, d);
    }
}

int attention_forward(struct kv_cache *c, const float *q, const float *k, const float *v, int n, int64_t pos0,
                      int heads, float scale, float *out)
{
    const int d = c->head_dim, kv_heads = c->kv_heads, group = heads / kv_heads;
    if (reserve(c, pos0 + n) != 0) return -1;
    const int64_t max_span = c->window > 0 ? c->window : pos0 + n;

    /* Every (query, head) pair is independent and computed by one thread in
     * a fixed order, so the result does not depend on the thread count. */
#pragma omp parallel
    {
        float *scores = malloc((size_t)max_span * sizeof(float));
#pragma omp for collapse(2) schedule(static)
        for (int t = 0; t < n; t++)
            for (int h = 0; h < heads; h++)
                attend_one(c, q + ((int64_t)t * heads + h) * d, k, v, pos0, pos0 + t, h / group, scale, scores,
                           out + ((int64_t)t * heads + h) * d);
        free(scores);
    }

    /* Store the batch: a full cache keeps every position, a ring only the
     * last W (earlier batch rows would be overwritten anyway). */
    const int64_t row = (int64_t)kv_heads * d;
    int first = c->window > 0 && n > c->window ? n - c->window : 0;
    for (int t = first; t < n; t++) {
        int64_t pos = pos0 + t, slot = c->window > 0 ? pos % c->window : pos;
        memcpy(c->k + slot * row, k + (int64_t)t * row, (size_t)row * sizeof(float));
        memcpy(c->v + slot * row, v + (int64_t)t * row, (size_t)row * sizeof(float));
    }
    return 0;
}

void attention_naive(const float *q, const float *k, const float *v, int n, int heads, int kv_heads, int head_dim,
                     int window, float scale, float *out)
{
    const int group = heads / kv_heads;
    double *p = malloc((size_t)n * sizeof(double));
    for (int t = 0; t < n; t++)
        for (int h = 0; h < heads; h++) {
            const float *qh = q + ((int64_t)t * heads + h) * head_dim;
            int lo = window > 0 && t - window + 1 > 0 ? t - window + 1 : 0;
            double m = -INFINITY, sum = 0.0;
            for (int j = lo; j <= t; j++) {
                const float *kj = k + ((int64_t)j * kv_heads + h / group) * head_dim;
                double s = 0.0;
                for (int i = 0; i < head_dim; i++) s += (double)qh[i] * kj[i];
                p[j] = s * scale;
                if (p[j] > m) m = p[j];
            }
            for (int j = lo; j <= t; j++) sum += (p[j] = exp(p[j] - m));
            float *oh = out + ((int64_t)t * heads + h) * head_dim;
            for (int i = 0; i < head_dim; i++) {
                double acc = 0.0;
                for (int j = lo; j <= t; j++) acc += p[j] / sum * v[((int64_t)j * kv_heads + h / group) * head_dim + i];
                oh[i] = (float)acc;
            }
        }
    free(p);
}
