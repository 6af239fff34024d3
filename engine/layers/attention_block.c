/* The softmax-attention block (every family's full and sliding-window layers):
 *   q, k, v = xn Wqᵀ, xn Wkᵀ, xn Wvᵀ   (Qwen3-Next: q_proj also yields a gate per head)
 *   q, k ← RMSNorm per head (when the model has q/k norms), then RoPE (unless the
 *   layer is position-free, as HypeNet's); HypeNet: q ← HyPE-scaled q (hype.h);
 *   o = attention(q, k, v), scale 1/√head_dim           (engine/mixers/attention.c)
 *   o ⊙= sigmoid(gate) (gate from q_proj, or from o_gate);  out = o Woᵀ */
#include <math.h>
#include <string.h>

#include "engine/layers/block.h"
#include "engine/ops/kernels.h"
#include "engine/session.h"

static void widths(const struct model *m, const struct layer *L, struct block_widths *w)
{
    const struct model_config *c = &m->cfg;
    const int64_t qd = (int64_t)c->num_heads * c->head_dim, kvd = (int64_t)c->num_kv_heads * c->head_dim;
    w->wide = block_max64(w->wide, L->attn.q.rows);
    w->head_in = block_max64(w->head_in, block_max64(qd, kvd));
    w->gate = block_max64(w->gate, qd);
    w->mix = block_max64(w->mix, qd);
}

static struct recurrent_shape recurrent(const struct model *m, const struct layer *L)
{
    (void)m, (void)L;
    return (struct recurrent_shape){0}; /* the KV cache is its state */
}

static int matrices(const struct layer *L, const struct weight *out[BLOCK_MAX_MATRICES])
{
    const struct attention_weights *a = &L->attn;
    int n = 0;
    for (const struct weight *w[] = {&a->q, &a->k, &a->v, &a->o, &a->o_gate}, **p = w; p < w + 5; p++)
        if (weight_present(*p)) out[n++] = *p;
    return n;
}

static int64_t workspace_floats(const struct model *m, const struct layer *L, int n, int64_t pos)
{
    const struct model_config *c = &m->cfg;
    return attention_workspace_floats(n, pos, L->window, c->num_heads, c->num_kv_heads, c->head_dim,
                                      linear_compute() == COMPUTE_BF16);
}

static int forward(struct session *s, int li, int n)
{
    const struct model_config *c = &s->m->cfg;
    const struct attention_weights *w = &s->m->layers[li].attn;
    struct session_scratch *a = &s->a;
    const int H = c->num_heads, KV = c->num_kv_heads, d = c->head_dim;
    if (w->output_gate) {
        /* q_proj rows per head: [q_h (d) | gate_h (d)]. */
        linear(a->xn, n, &w->q, w->q_bias, a->wide, &s->ws);
#pragma omp parallel for schedule(static) if ((int64_t)n * H * 2 * d >= PARALLEL_MIN_ELEMENTS)
        for (int t = 0; t < n; t++)
            for (int h = 0; h < H; h++) {
                const float *src = a->wide + ((size_t)t * H + h) * 2 * d;
                memcpy(a->q + ((size_t)t * H + h) * d, src, (size_t)d * sizeof(float));
                memcpy(a->gate + ((size_t)t * H + h) * d, src + d, (size_t)d * sizeof(float));
            }
    } else {
        linear(a->xn, n, &w->q, w->q_bias, a->q, &s->ws);
    }
    linear(a->xn, n, &w->k, w->k_bias, a->k, &s->ws);
    linear(a->xn, n, &w->v, w->v_bias, a->v, &s->ws);
    if (w->q_norm) rmsnorm(a->q, w->q_norm, n * H, d, c->rms_norm_eps, a->q);
    if (w->k_norm) rmsnorm(a->k, w->k_norm, n * KV, d, c->rms_norm_eps, a->k);
    if (w->rope) {
        rope_apply(&s->rope, a->q, n, H, d);
        rope_apply(&s->rope, a->k, n, KV, d);
    }
    query_scaling_apply(&w->q_scaling, a->q, n, H, d, s->pos); /* HyPE (hype.h); a no-op elsewhere */
    struct mixer_inputs in = session_mixer_inputs(s, li, n, H, KV, d, d);
    session_observe_mixer_inputs(s, &in);
    const struct attention_probe *probe = session_attention_probe(s, li);
    if (attention_forward(&s->layers[li].kv, a->q, a->k, a->v, n, s->pos, H, 1.0f / sqrtf((float)d), a->mix, probe,
                          &s->ws) != 0)
        return -1;
    if (weight_present(&w->o_gate)) linear(a->xn, n, &w->o_gate, NULL, a->gate, &s->ws);
    if (w->output_gate || weight_present(&w->o_gate)) {
        session_observe_module(s, OBSERVE_MIXER_GATE, li, a->gate, n, H * d, s->pos);
        mul_sigmoid_inplace(a->mix, a->gate, (int64_t)n * H * d);
    }
    linear(a->mix, n, &w->o, NULL, a->proj, &s->ws);
    return 0;
}

const struct block_kind softmax_attention_block = {
    .name = "softmax attention",
    .plan_name = "attention",
    .widths = widths,
    .recurrent = recurrent,
    .matrices = matrices,
    .workspace_floats = workspace_floats,
    .forward = forward,
};
