#include "ffn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void swiglu_mlp(const struct mlp_weights *w, const float *x, int n, float *gate_buf, float *up_buf, float *out)
{
    linear(x, n, &w->gate, NULL, gate_buf);
    linear(x, n, &w->up, NULL, up_buf);
    swiglu(gate_buf, up_buf, (int64_t)n * w->gate.rows, gate_buf);
    linear(gate_buf, n, &w->down, NULL, out);
}

int moe_scratch_init(struct moe_scratch *s, const struct model_config *c, int n)
{
    const size_t h = (size_t)c->hidden_size, E = (size_t)(c->num_experts ? c->num_experts : 1);
    const size_t K = (size_t)c->experts_per_token;
    size_t inter = (size_t)c->moe_intermediate_size;
    if ((size_t)c->shared_expert_intermediate_size > inter) inter = (size_t)c->shared_expert_intermediate_size;
    s->probs = malloc(n * E * sizeof(float));
    s->choice = malloc(n * K * sizeof(int));
    s->weight = malloc(n * K * sizeof(float));
    s->rows = malloc(n * sizeof(int));
    s->xs = malloc(n * h * sizeof(float));
    s->ys = malloc(n * h * sizeof(float));
    s->gate_buf = malloc(n * inter * sizeof(float));
    s->up_buf = malloc(n * inter * sizeof(float));
    return (s->probs && s->choice && s->weight && s->rows && s->xs && s->ys && s->gate_buf && s->up_buf) ? 0 : -1;
}

void moe_scratch_free(struct moe_scratch *s)
{
    free(s->probs), free(s->choice), free(s->weight), free(s->rows);
    free(s->xs), free(s->ys), free(s->gate_buf), free(s->up_buf);
    memset(s, 0, sizeof *s);
}

/* Router: softmax in float32 (max subtracted), then the top-k by
 * probability, largest first, ties to the lower expert index. */
static void route(const struct moe_weights *m, int n, struct moe_scratch *s)
{
    const int E = m->num_experts, K = m->top_k;
    for (int t = 0; t < n; t++) {
        float *p = s->probs + (size_t)t * E;
        float mx = p[0];
        for (int e = 1; e < E; e++) mx = p[e] > mx ? p[e] : mx;
        double sum = 0;
        for (int e = 0; e < E; e++) sum += (p[e] = expf(p[e] - mx));
        for (int e = 0; e < E; e++) p[e] = (float)(p[e] / sum);
        int *ch = s->choice + (size_t)t * K;
        float *w = s->weight + (size_t)t * K;
        double wsum = 0;
        for (int k = 0; k < K; k++) {
            int best = -1;
            for (int e = 0; e < E; e++) {
                bool taken = false;
                for (int j = 0; j < k; j++) taken |= ch[j] == e;
                if (!taken && (best < 0 || p[e] > p[best])) best = e;
            }
            ch[k] = best;
            w[k] = p[best];
            wsum += p[best];
        }
        if (m->norm_topk_prob)
            for (int k = 0; k < K; k++) w[k] = (float)(w[k] / wsum);
    }
}

void moe_forward(const struct moe_weights *m, const float *x, int n, int hidden, struct moe_scratch *s, float *out)
{
    const int K = m->top_k;
    linear(x, n, &m->router, NULL, s->probs);
    route(m, n, s);
    memset(out, 0, (size_t)n * hidden * sizeof(float));
    for (int e = 0; e < m->num_experts; e++) {
        int count = 0;
        for (int t = 0; t < n; t++)
            for (int k = 0; k < K; k++)
                if (s->choice[(size_t)t * K + k] == e) s->rows[count++] = t;
        if (!count) continue;
        for (int r = 0; r < count; r++)
            memcpy(s->xs + (size_t)r * hidden, x + (size_t)s->rows[r] * hidden, (size_t)hidden * sizeof(float));
        swiglu_mlp(&m->experts[e], s->xs, count, s->gate_buf, s->up_buf, s->ys);
        for (int r = 0; r < count; r++) {
            const int t = s->rows[r];
            float w = 0;
            for (int k = 0; k < K; k++)
                if (s->choice[(size_t)t * K + k] == e) w = s->weight[(size_t)t * K + k];
            float *o = out + (size_t)t * hidden;
            const float *y = s->ys + (size_t)r * hidden;
            for (int i = 0; i < hidden; i++) o[i] += w * y[i];
        }
    }
    if (m->has_shared) {
        swiglu_mlp(&m->shared, x, n, s->gate_buf, s->up_buf, s->ys);
        for (int t = 0; t < n; t++) {
            const float *xt = x + (size_t)t * hidden;
            double z = 0;
            for (int i = 0; i < hidden; i++) z += (double)m->shared_gate[i] * xt[i];
            const float gate = (float)(1.0 / (1.0 + exp(-z)));
            float *o = out + (size_t)t * hidden;
            const float *y = s->ys + (size_t)t * hidden;
            for (int i = 0; i < hidden; i++) o[i] += gate * y[i];
        }
    }
}
