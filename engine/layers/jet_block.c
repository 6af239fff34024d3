/* Jet-Nemotron's JetBlock (NVlabs/Jet-Nemotron jet_block.py, dynamic_conv.py):
 *   q = silu(xn Wqᵀ), k = silu(xn Wkᵀ)                      [heads, dk]
 *   kern_t = W2 silu(W1 xn_t) + b2 → [value channels, K]      (tap fastest)
 *   v = silu(causal_conv(xn Wvᵀ, kern_t))                     [heads, dv]
 *   β = sigmoid(xn Wbᵀ), g = −exp(A_log) · softplus(xn Waᵀ + dt_bias)
 *   q, k ← L2-normalised, q /= √dk;  o = gated_delta(q, k, v, g, β)
 *   o_h ← RMSNorm(o_h, norm_eps) · w ⊙ silu(xn Wgᵀ)_h;  out = o Woᵀ */
#include <math.h>

#include "engine/layers/block.h"
#include "engine/mixers/gated_delta.h"
#include "engine/ops/causal_conv.h"
#include "engine/ops/kernels.h"
#include "engine/session.h"

static void widths(const struct model *m, const struct layer *L, struct block_widths *w)
{
    (void)m;
    const struct jet_weights *j = &L->jet;
    const int64_t vd = (int64_t)j->heads * j->dv;
    w->wide = block_max64(w->wide, j->gen_hidden);
    w->head_in = block_max64(w->head_in, block_max64((int64_t)j->heads * j->dk, vd));
    w->gate = block_max64(w->gate, vd);
    w->mix = block_max64(w->mix, vd);
    w->conv = block_max64(w->conv, vd);
    w->kern = block_max64(w->kern, vd * j->conv_size);
    w->heads = block_max64(w->heads, j->heads);
}

static struct recurrent_shape recurrent(const struct model *m, const struct layer *L)
{
    (void)m;
    const struct jet_weights *j = &L->jet;
    return (struct recurrent_shape){j->heads, j->dk, j->dv, (int64_t)(j->conv_size - 1) * j->heads * j->dv};
}

static int matrices(const struct layer *L, const struct weight *out[BLOCK_MAX_MATRICES])
{
    const struct jet_weights *j = &L->jet;
    const struct weight *w[] = {&j->q, &j->k, &j->v, &j->g, &j->b, &j->a, &j->o, &j->gen1, &j->gen2};
    for (int i = 0; i < 9; i++) out[i] = w[i];
    return 9;
}

/* L2-normalises each head of x [rows, d] (eps 1e-6 on the sum of squares, as
 * fla's in-kernel l2norm) and multiplies by scale. */
static void l2norm_heads(float *x, int64_t rows, int d, float scale)
{
#pragma omp parallel for schedule(static) if (rows * d >= PARALLEL_MIN_ELEMENTS)
    for (int64_t r = 0; r < rows; r++) {
        float *v = x + r * d;
        double ss = 0;
        for (int i = 0; i < d; i++) ss += (double)v[i] * v[i];
        const float inv = (float)(1.0 / sqrt(ss + 1e-6)) * scale;
        for (int i = 0; i < d; i++) v[i] *= inv;
    }
}

static int64_t workspace_floats(const struct model *m, const struct layer *L, int n, int64_t pos)
{
    (void)m, (void)n, (void)pos;
    return gated_delta_workspace_floats(GATED_DELTA_DEFAULT_CHUNK, L->jet.dk, L->jet.dv);
}

static int forward(struct session *s, int li, int n)
{
    const struct jet_weights *w = &s->m->layers[li].jet;
    struct session_scratch *a = &s->a;
    const int H = w->heads, dk = w->dk, dv = w->dv, C = H * dv, K = w->conv_size;
    linear(a->xn, n, &w->q, NULL, a->q, &s->ws);
    linear(a->xn, n, &w->k, NULL, a->k, &s->ws);
    silu_inplace(a->q, (int64_t)n * H * dk);
    silu_inplace(a->k, (int64_t)n * H * dk);
    /* The dynamic convolution's per-token kernels, then the convolution. */
    linear(a->xn, n, &w->gen1, NULL, a->wide, &s->ws);
    silu_inplace(a->wide, (int64_t)n * w->gen_hidden);
    linear(a->wide, n, &w->gen2, w->gen2_bias, a->kern, &s->ws);
    linear(a->xn, n, &w->v, NULL, a->conv_in, &s->ws);
    causal_conv_forward(a->conv_in, n, C, K, a->kern, (size_t)C * K, s->layers[li].conv_tail, a->v);
    silu_inplace(a->v, (int64_t)n * C);
    linear(a->xn, n, &w->b, NULL, a->beta, &s->ws);
    linear(a->xn, n, &w->a, NULL, a->g, &s->ws);
    for (int t = 0; t < n; t++)
        for (int h = 0; h < H; h++) {
            const size_t i = (size_t)t * H + h;
            a->beta[i] = sigmoidf(a->beta[i]);
            a->g[i] = -expf(w->A_log[h]) * softplusf(a->g[i] + w->dt_bias[h]);
        }
    l2norm_heads(a->q, (int64_t)n * H, dk, 1.0f / sqrtf((float)dk));
    l2norm_heads(a->k, (int64_t)n * H, dk, 1.0f);
    struct mixer_inputs in = session_mixer_inputs(s, li, n, H, H, dk, dv);
    in.log_decay = a->g, in.beta = a->beta;
    session_observe_mixer_inputs(s, &in);
    float *S = s->layers[li].S;
    if (n == 1)
        gated_delta_step(H, dk, dv, a->q, a->k, a->v, a->g, a->beta, S, a->mix);
    else
        gated_delta_chunked(n, H, dk, dv, a->q, a->k, a->v, a->g, a->beta, S, a->mix, GATED_DELTA_DEFAULT_CHUNK,
                            &s->ws);
    rmsnorm(a->mix, w->o_norm, n * H, dv, w->norm_eps, a->mix);
    linear(a->xn, n, &w->g, NULL, a->gate, &s->ws);
    session_observe_module(s, OBSERVE_MIXER_GATE, li, a->gate, n, C, s->pos);
    mul_silu_inplace(a->mix, a->gate, (int64_t)n * C);
    linear(a->mix, n, &w->o, NULL, a->proj, &s->ws);
    return 0;
}

const struct block_kind jet_block = {
    .name = "JetBlock (gated delta rule, dynamic conv)",
    .plan_name = "jet",
    .widths = widths,
    .recurrent = recurrent,
    .matrices = matrices,
    .workspace_floats = workspace_floats,
    .forward = forward,
};
