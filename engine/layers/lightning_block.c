/* The lightning-attention block (engine/mixers/lightning.c), in two spellings:
 *   MiniMax (MiniMaxLightningAttention): [q_h | k_h | v_h] = silu(xn Wqkvᵀ) per head;
 *     no RoPE, no scale, decay slope scaled by layer depth;
 *   HypeNet (LightningAttention): q, k, v = xn Wᵀ; q, k ← RMSNorm per head, RoPE;
 *     q ← q/√d; k/v heads shared in groups when kv_heads < heads.
 * Then o = lightning(q, k, v) with log-decay −slope_h;
 *   o ← RMSNorm(o over all heads) ⊙ sigmoid(xn Wgᵀ);  out = o Woᵀ. */
#include <string.h>

#include "engine/layers/block.h"
#include "engine/mixers/lightning.h"
#include "engine/ops/kernels.h"
#include "engine/session.h"

static void widths(const struct model *m, const struct layer *L, struct block_widths *w)
{
    (void)m;
    const int64_t d = (int64_t)L->lightning.heads * L->lightning.head_dim;
    w->wide = block_max64(w->wide, block_max64(L->lightning.qkv.rows, d));
    w->head_in = block_max64(w->head_in, d);
    w->gate = block_max64(w->gate, d);
    w->mix = block_max64(w->mix, d);
    w->heads = block_max64(w->heads, L->lightning.heads);
}

static struct recurrent_shape recurrent(const struct model *m, const struct layer *L)
{
    (void)m;
    return (struct recurrent_shape){L->lightning.heads, L->lightning.head_dim, L->lightning.head_dim, 0};
}

static int matrices(const struct layer *L, const struct weight *out[BLOCK_MAX_MATRICES])
{
    const struct lightning_weights *l = &L->lightning;
    int n = 0;
    for (const struct weight *w[] = {&l->qkv, &l->q, &l->k, &l->v, &l->gate, &l->out}, **p = w; p < w + 6; p++)
        if (weight_present(*p)) out[n++] = *p;
    return n;
}

static int64_t workspace_floats(const struct model *m, const struct layer *L, int n, int64_t pos)
{
    (void)m, (void)n, (void)pos;
    return lightning_workspace_floats(LIGHTNING_DEFAULT_CHUNK, L->lightning.head_dim);
}

static int forward(struct session *s, int li, int n)
{
    const struct model_config *c = &s->m->cfg;
    const struct lightning_weights *w = &s->m->layers[li].lightning;
    struct session_scratch *a = &s->a;
    const int H = w->heads, d = w->head_dim;
    if (weight_present(&w->qkv)) {
        linear(a->xn, n, &w->qkv, NULL, a->wide, &s->ws);
#pragma omp parallel for schedule(static) if ((int64_t)n * H * 3 * d >= PARALLEL_MIN_ELEMENTS)
        for (int t = 0; t < n; t++)
            for (int h = 0; h < H; h++) {
                const float *src = a->wide + ((size_t)t * H + h) * 3 * d;
                const size_t dst = ((size_t)t * H + h) * d;
                for (int i = 0; i < d; i++) {
                    a->q[dst + i] = silu(src[i]);
                    a->k[dst + i] = silu(src[d + i]);
                    a->v[dst + i] = silu(src[2 * d + i]);
                }
            }
    } else {
        const int KV = w->kv_heads, group = H / KV;
        linear(a->xn, n, &w->q, NULL, a->q, &s->ws);
        linear(a->xn, n, &w->k, NULL, a->k, &s->ws);
        linear(a->xn, n, &w->v, NULL, a->v, &s->ws);
        rmsnorm(a->q, w->q_norm, n * H, d, c->rms_norm_eps, a->q);
        rmsnorm(a->k, w->k_norm, n * KV, d, c->rms_norm_eps, a->k);
        if (w->rope) {
            rope_apply(&s->rope, a->q, n, H, d);
            rope_apply(&s->rope, a->k, n, KV, d);
        }
        for (int64_t i = 0; i < (int64_t)n * H * d; i++) a->q[i] *= w->q_scale;
        if (group > 1) /* head h reads kv head h / group: expand in place, last row first */
            for (float *x[2] = {a->k, a->v}, **p = x; p < x + 2; p++)
                for (int t = n - 1; t >= 0; t--)
                    for (int h = H - 1; h >= 0; h--)
                        memmove(*p + ((size_t)t * H + h) * d, *p + ((size_t)t * KV + h / group) * d,
                                (size_t)d * sizeof(float));
    }
    for (int t = 0; t < n; t++)
        for (int h = 0; h < H; h++) a->g[(size_t)t * H + h] = w->log_decay[h];
    struct mixer_inputs in = session_mixer_inputs(s, li, n, H, H, d, d);
    in.log_decay = a->g;
    session_observe_mixer_inputs(s, &in);
    float *S = s->layers[li].S;
    if (n == 1)
        lightning_step(H, d, d, a->q, a->k, a->v, a->g, S, a->mix);
    else
        lightning_chunked(n, H, d, d, a->q, a->k, a->v, a->g, S, a->mix, LIGHTNING_DEFAULT_CHUNK, &s->ws);
    rmsnorm(a->mix, w->norm, n, H * d, w->norm_eps, a->mix);
    linear(a->xn, n, &w->gate, NULL, a->gate, &s->ws);
    session_observe_module(s, OBSERVE_MIXER_GATE, li, a->gate, n, H * d, s->pos);
    mul_sigmoid_inplace(a->mix, a->gate, (int64_t)n * H * d);
    linear(a->mix, n, &w->out, NULL, a->proj, &s->ws);
    return 0;
}

const struct block_kind lightning_block = {
    .name = "lightning attention",
    .plan_name = "lightning",
    .widths = widths,
    .recurrent = recurrent,
    .matrices = matrices,
    .workspace_floats = workspace_floats,
    .forward = forward,
};
