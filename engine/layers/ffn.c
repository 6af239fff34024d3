#include "engine/layers/ffn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void swiglu_mlp(const struct mlp_weights *w, const float *x, int n, float *gate_buf, float *up_buf, float *out,
                const struct workspace *ws)
{
    linear(x, n, &w->gate, NULL, gate_buf, ws);
    linear(x, n, &w->up, NULL, up_buf, ws);
    swiglu(gate_buf, up_buf, (int64_t)n * w->gate.rows, gate_buf);
    linear(gate_buf, n, &w->down, NULL, out, ws);
}

/* Element counts of the scratch for n tokens: slots = n·top_k (top_k >= 1,
 * so slots also hold the shared expert's n rows). */
struct moe_sizes {
    size_t probs, experts, slots, rows, inter;
};
static struct moe_sizes moe_sizes(const struct model_config *c, int n)
{
    struct moe_sizes z;
    z.experts = (size_t)(c->num_experts ? c->num_experts : 1);
    z.probs = (size_t)n * z.experts;
    z.slots = (size_t)n * (size_t)(c->experts_per_token > 0 ? c->experts_per_token : 1);
    z.rows = z.slots * (size_t)c->hidden_size;
    z.inter = z.slots * (size_t)c->moe_intermediate_size;
    if ((size_t)n * c->shared_expert_intermediate_size > z.inter)
        z.inter = (size_t)n * c->shared_expert_intermediate_size;
    return z;
}

int64_t moe_scratch_bytes(const struct model_config *c, int n)
{
    const struct moe_sizes z = moe_sizes(c, n);
    return (int64_t)(sizeof(float) * (z.probs + z.slots + 2 * z.rows + 2 * z.inter) +
                     sizeof(int) * (2 * z.experts + 1 + 3 * z.slots));
}

int moe_scratch_init(struct moe_scratch *s, const struct model_config *c, int n)
{
    const struct moe_sizes z = moe_sizes(c, n);
    s->probs = malloc(z.probs * sizeof(float));
    s->choice = malloc(z.slots * sizeof(int));
    s->weight = malloc(z.slots * sizeof(float));
    s->start = malloc((z.experts + 1) * sizeof(int));
    s->next = malloc(z.experts * sizeof(int));
    s->slot_token = malloc(z.slots * sizeof(int));
    s->slot_of = malloc(z.slots * sizeof(int));
    s->xs = malloc(z.rows * sizeof(float));
    s->ys = malloc(z.rows * sizeof(float));
    s->gate_buf = malloc(z.inter * sizeof(float));
    s->up_buf = malloc(z.inter * sizeof(float));
    return (s->probs && s->choice && s->weight && s->start && s->next && s->slot_token && s->slot_of && s->xs &&
            s->ys && s->gate_buf && s->up_buf)
               ? 0
               : -1;
}

void moe_scratch_free(struct moe_scratch *s)
{
    free(s->probs), free(s->choice), free(s->weight), free(s->start), free(s->next);
    free(s->slot_token), free(s->slot_of), free(s->xs), free(s->ys), free(s->gate_buf), free(s->up_buf);
    memset(s, 0, sizeof *s);
}

/* Router: softmax in float32 (max subtracted), then the top-k by
 * probability, largest first, ties to the lower expert index. */
static void route(const struct moe_weights *m, int n, struct moe_scratch *s)
{
    const int E = m->num_experts, K = m->top_k;
#pragma omp parallel for schedule(static) if (n > 1)
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

/* Slots grouped by expert, tokens in increasing order within each group. */
static void assign_slots(int E, int K, int n, struct moe_scratch *s)
{
    for (int e = 0; e <= E; e++) s->start[e] = 0;
    for (int i = 0; i < n * K; i++) s->start[s->choice[i] + 1]++;
    for (int e = 0; e < E; e++) s->start[e + 1] += s->start[e];
    for (int e = 0; e < E; e++) s->next[e] = s->start[e];
    for (int t = 0; t < n; t++)
        for (int k = 0; k < K; k++) {
            const int slot = s->next[s->choice[(size_t)t * K + k]]++;
            s->slot_token[slot] = t;
            s->slot_of[(size_t)t * K + k] = slot;
        }
}

/* Expert e on its slots: gather the inputs, the SwiGLU MLP, outputs in ys. */
static void run_expert(const struct moe_weights *m, int e, const float *x, int hidden, struct moe_scratch *s,
                       const struct workspace *ws)
{
    const int first = s->start[e], count = s->start[e + 1] - first;
    if (!count) return;
    const int64_t inter = m->experts[e].gate.rows;
    float *xs = s->xs + (size_t)first * hidden, *ys = s->ys + (size_t)first * hidden;
    for (int r = 0; r < count; r++)
        memcpy(xs + (size_t)r * hidden, x + (size_t)s->slot_token[first + r] * hidden, (size_t)hidden * sizeof(float));
    swiglu_mlp(&m->experts[e], xs, count, s->gate_buf + (size_t)first * inter, s->up_buf + (size_t)first * inter, ys,
               ws);
}

void moe_forward(const struct moe_weights *m, const float *x, int n, int hidden, struct moe_scratch *s, float *out,
                 const struct workspace *ws)
{
    const int E = m->num_experts, K = m->top_k;
    linear(x, n, &m->router, NULL, s->probs, ws);
    route(m, n, s);
    assign_slots(E, K, n, s);

    /* A batch: one expert per thread, its GEMMs single-threaded inside the
     * region (so the same bits at any thread count); dynamic, as groups differ
     * in size. One token (decode): each expert's matvec uses all threads, so
     * no region here (libgomp runs regions nested in one serially, even in one
     * switched off by an if clause). */
    if (n > 1) {
#pragma omp parallel for schedule(dynamic, 1) num_threads(workspace_team(ws))
        for (int e = 0; e < E; e++) run_expert(m, e, x, hidden, s, ws);
    } else {
        for (int e = 0; e < E; e++) run_expert(m, e, x, hidden, s, ws);
    }

    /* Each token: Σ over its choices in increasing expert index, from zero. */
#pragma omp parallel for schedule(static) if ((int64_t)n * hidden >= PARALLEL_MIN_ELEMENTS)
    for (int t = 0; t < n; t++) {
        float *o = out + (size_t)t * hidden;
        memset(o, 0, (size_t)hidden * sizeof(float));
        for (int e = 0; e < E; e++)
            for (int k = 0; k < K; k++)
                if (s->choice[(size_t)t * K + k] == e) {
                    const float w = s->weight[(size_t)t * K + k];
                    const float *y = s->ys + (size_t)s->slot_of[(size_t)t * K + k] * hidden;
                    for (int i = 0; i < hidden; i++) o[i] += w * y[i];
                }
    }
    if (m->has_shared) {
        swiglu_mlp(&m->shared, x, n, s->gate_buf, s->up_buf, s->ys, ws);
#pragma omp parallel for schedule(static) if ((int64_t)n * hidden >= PARALLEL_MIN_ELEMENTS)
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
