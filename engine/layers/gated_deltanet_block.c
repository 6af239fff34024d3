/* Qwen3-Next's Gated DeltaNet block (transformers' Qwen3NextGatedDeltaNet):
 *   in_proj_qkvz rows per key head kh: [q (dk) | k (dk) | v (r·dv) | z (r·dv)], r = nv/nk;
 *   in_proj_ba rows per key head: [b (r) | a (r)];
 *   [q | k | v] (all heads of each) ← silu(causal depthwise conv, kernel K);
 *   value head h reads key head h / r; q, k ← L2-normalised (eps 1e-6), q /= √dk;
 *   β = sigmoid(b), g = −exp(A_log) · softplus(a + dt_bias);
 *   o = gated_delta(q, k, v, g, β)                        (engine/mixers/gated_delta.c)
 *   o_h ← RMSNorm(o_h) · w ⊙ silu(z_h);  out = o Woᵀ */
#include <math.h>
#include <string.h>

#include "engine/layers/block.h"
#include "engine/mixers/gated_delta.h"
#include "engine/ops/causal_conv.h"
#include "engine/ops/kernels.h"
#include "engine/session.h"

/* The convolution runs over [all q | all k | all v]. */
static int64_t conv_channels(const struct model_config *c)
{
    return 2 * (int64_t)c->linear_num_key_heads * c->linear_key_head_dim +
           (int64_t)c->linear_num_value_heads * c->linear_value_head_dim;
}

static void widths(const struct model *m, const struct layer *L, struct block_widths *w)
{
    const struct model_config *c = &m->cfg;
    const int64_t nv = c->linear_num_value_heads;
    w->wide = block_max64(w->wide, L->delta.qkvz.rows + L->delta.ba.rows);
    w->head_in = block_max64(w->head_in, block_max64(nv * c->linear_key_head_dim, nv * c->linear_value_head_dim));
    w->gate = block_max64(w->gate, nv * c->linear_value_head_dim);
    w->mix = block_max64(w->mix, nv * c->linear_value_head_dim);
    w->conv = block_max64(w->conv, conv_channels(c));
    w->heads = block_max64(w->heads, nv);
}

static struct recurrent_shape recurrent(const struct model *m, const struct layer *L)
{
    (void)L;
    const struct model_config *c = &m->cfg;
    return (struct recurrent_shape){c->linear_num_value_heads, c->linear_key_head_dim, c->linear_value_head_dim,
                                    (int64_t)(c->linear_conv_kernel - 1) * conv_channels(c)};
}

static int matrices(const struct layer *L, const struct weight *out[BLOCK_MAX_MATRICES])
{
    out[0] = &L->delta.qkvz, out[1] = &L->delta.ba, out[2] = &L->delta.out;
    return 3;
}

static int64_t workspace_floats(const struct model *m, const struct layer *L, int n, int64_t pos)
{
    (void)L, (void)n, (void)pos;
    return gated_delta_workspace_floats(GATED_DELTA_DEFAULT_CHUNK, m->cfg.linear_key_head_dim,
                                        m->cfg.linear_value_head_dim);
}

static int forward(struct session *s, int li, int n)
{
    const struct model_config *c = &s->m->cfg;
    const struct gated_delta_weights *w = &s->m->layers[li].delta;
    struct session_scratch *a = &s->a;
    const int nk = c->linear_num_key_heads, nv = c->linear_num_value_heads, dk = c->linear_key_head_dim,
              dv = c->linear_value_head_dim, r = nv / nk, K = c->linear_conv_kernel;
    const int C = (int)conv_channels(c), qkvz = (int)w->qkvz.rows, block = 2 * dk + 2 * r * dv;
    /* Projections side by side in `wide`: [n, qkvz] then [n, 2nv]. */
    float *proj_qkvz = a->wide, *proj_ba = a->wide + (size_t)n * qkvz;
    linear(a->xn, n, &w->qkvz, NULL, proj_qkvz, &s->ws);
    linear(a->xn, n, &w->ba, NULL, proj_ba, &s->ws);
    /* Regroup into the conv's channel order [all q | all k | all v], z into
     * `gate`, b and a per value head. */
    float *mixed = a->conv_in;
#pragma omp parallel for schedule(static) if ((int64_t)n * qkvz >= PARALLEL_MIN_ELEMENTS)
    for (int t = 0; t < n; t++) {
        const float *src = proj_qkvz + (size_t)t * qkvz;
        float *dst = mixed + (size_t)t * C;
        for (int kh = 0; kh < nk; kh++) {
            const float *blk = src + (size_t)kh * block;
            memcpy(dst + (size_t)kh * dk, blk, (size_t)dk * sizeof(float));
            memcpy(dst + (size_t)(nk + kh) * dk, blk + dk, (size_t)dk * sizeof(float));
            memcpy(dst + (size_t)2 * nk * dk + (size_t)kh * r * dv, blk + 2 * dk, (size_t)r * dv * sizeof(float));
            memcpy(a->gate + (size_t)t * nv * dv + (size_t)kh * r * dv, blk + 2 * dk + r * dv,
                   (size_t)r * dv * sizeof(float));
            for (int j = 0; j < r; j++) {
                const int h = kh * r + j;
                const float b = proj_ba[(size_t)t * 2 * nv + kh * 2 * r + j];
                const float araw = proj_ba[(size_t)t * 2 * nv + kh * 2 * r + r + j];
                a->beta[(size_t)t * nv + h] = sigmoidf(b);
                a->g[(size_t)t * nv + h] = -expf(w->A_log[h]) * softplusf(araw + w->dt_bias[h]);
            }
        }
    }
    short_conv_forward(mixed, n, C, K, w->conv, s->layers[li].conv_tail, a->conv);
    silu_inplace(a->conv, (int64_t)n * C);
    /* Per value head: q, k from key head h / r, L2-normalised; v as is. */
    const float qscale = 1.0f / sqrtf((float)dk);
#pragma omp parallel for schedule(static) if ((int64_t)n * C >= PARALLEL_MIN_ELEMENTS)
    for (int t = 0; t < n; t++) {
        const float *row = a->conv + (size_t)t * C;
        for (int h = 0; h < nv; h++) {
            const float *qs = row + (size_t)(h / r) * dk, *ks = row + (size_t)(nk + h / r) * dk;
            float *qd = a->q + ((size_t)t * nv + h) * dk, *kd = a->k + ((size_t)t * nv + h) * dk;
            double sq = 0, sk = 0;
            for (int i = 0; i < dk; i++) sq += (double)qs[i] * qs[i], sk += (double)ks[i] * ks[i];
            const float iq = (float)(1.0 / sqrt(sq + 1e-6)), ik = (float)(1.0 / sqrt(sk + 1e-6));
            for (int i = 0; i < dk; i++) qd[i] = qs[i] * iq * qscale, kd[i] = ks[i] * ik;
            memcpy(a->v + ((size_t)t * nv + h) * dv, row + (size_t)2 * nk * dk + (size_t)h * dv,
                   (size_t)dv * sizeof(float));
        }
    }
    struct mixer_inputs in = session_mixer_inputs(s, li, n, nv, nv, dk, dv);
    in.log_decay = a->g, in.beta = a->beta;
    session_observe_mixer_inputs(s, &in);
    float *S = s->layers[li].S;
    if (n == 1)
        gated_delta_step(nv, dk, dv, a->q, a->k, a->v, a->g, a->beta, S, a->mix);
    else
        gated_delta_chunked(n, nv, dk, dv, a->q, a->k, a->v, a->g, a->beta, S, a->mix, GATED_DELTA_DEFAULT_CHUNK,
                            &s->ws);
    rmsnorm(a->mix, w->norm, n * nv, dv, c->rms_norm_eps, a->mix);
    session_observe_module(s, OBSERVE_MIXER_GATE, li, a->gate, n, nv * dv, s->pos);
    mul_silu_inplace(a->mix, a->gate, (int64_t)n * nv * dv);
    linear(a->mix, n, &w->out, NULL, a->proj, &s->ws);
    return 0;
}

const struct block_kind gated_deltanet_block = {
    .name = "gated delta rule",
    .plan_name = "gated_delta",
    .widths = widths,
    .recurrent = recurrent,
    .matrices = matrices,
    .workspace_floats = workspace_floats,
    .forward = forward,
};
