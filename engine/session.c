#include "session.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gated_delta.h"
#include "lightning.h"
#include "causal_conv.h"
#include "kernels.h"

/* ---- sizes ------------------------------------------------------------ */

struct widths {
    int64_t wide, head_in, gate, mix, conv, kern, heads, ffn;
};

static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

static int64_t conv_channels(const struct model_config *c)
{
    return 2 * (int64_t)c->linear_num_key_heads * c->linear_key_head_dim +
           (int64_t)c->linear_num_value_heads * c->linear_value_head_dim;
}

static struct widths model_widths(const struct model *m)
{
    const struct model_config *c = &m->cfg;
    const int64_t qd = (int64_t)c->num_heads * c->head_dim, kvd = (int64_t)c->num_kv_heads * c->head_dim;
    struct widths w = {0};
    w.ffn = max64(c->intermediate_size, max64(c->moe_intermediate_size, c->shared_expert_intermediate_size));
    for (int i = 0; i < c->num_layers; i++) {
        const struct layer *L = &m->layers[i];
        switch (L->mixer) {
        case MIXER_SOFTMAX_ATTENTION:
            w.wide = max64(w.wide, L->attn.q.rows);
            w.head_in = max64(w.head_in, max64(qd, kvd));
            w.gate = max64(w.gate, qd);
            w.mix = max64(w.mix, qd);
            break;
        case MIXER_LIGHTNING: {
            const int64_t d = (int64_t)L->lightning.heads * L->lightning.head_dim;
            w.wide = max64(w.wide, max64(L->lightning.qkv.rows, d));
            w.head_in = max64(w.head_in, d);
            w.gate = max64(w.gate, d);
            w.mix = max64(w.mix, d);
            w.heads = max64(w.heads, L->lightning.heads);
            break;
        }
        case MIXER_JET: {
            const struct jet_weights *j = &L->jet;
            const int64_t vd = (int64_t)j->heads * j->dv;
            w.wide = max64(w.wide, j->gen_hidden);
            w.head_in = max64(w.head_in, max64((int64_t)j->heads * j->dk, vd));
            w.gate = max64(w.gate, vd);
            w.mix = max64(w.mix, vd);
            w.conv = max64(w.conv, vd);
            w.kern = max64(w.kern, vd * j->conv_size);
            w.heads = max64(w.heads, j->heads);
            break;
        }
        case MIXER_GATED_DELTA: {
            const int64_t nv = c->linear_num_value_heads;
            w.wide = max64(w.wide, L->delta.qkvz.rows + L->delta.ba.rows);
            w.head_in = max64(w.head_in, max64(nv * c->linear_key_head_dim, nv * c->linear_value_head_dim));
            w.gate = max64(w.gate, nv * c->linear_value_head_dim);
            w.mix = max64(w.mix, nv * c->linear_value_head_dim);
            w.conv = max64(w.conv, conv_channels(c));
            w.heads = max64(w.heads, nv);
            break;
        }
        }
    }
    return w;
}

int64_t session_scratch_bytes(const struct model *m, int max_batch)
{
    const struct widths w = model_widths(m);
    int64_t per_token = 3 * (int64_t)m->cfg.hidden_size + w.wide + 3 * w.head_in + w.gate + w.mix + 2 * w.conv + w.kern +
                        2 * w.heads + 2 * w.ffn;
    return per_token * max_batch * (int64_t)sizeof(float) +
           (m->cfg.num_experts > 0 ? moe_scratch_bytes(&m->cfg, max_batch) : 0);
}

static int64_t recurrent_state_floats(const struct model *m, int li)
{
    const struct model_config *c = &m->cfg;
    const struct layer *L = &m->layers[li];
    switch (L->mixer) {
    case MIXER_LIGHTNING: return (int64_t)L->lightning.heads * L->lightning.head_dim * L->lightning.head_dim;
    case MIXER_JET:
        return (int64_t)L->jet.heads * L->jet.dk * L->jet.dv +
               (int64_t)(L->jet.conv_size - 1) * L->jet.heads * L->jet.dv;
    case MIXER_GATED_DELTA:
        return (int64_t)c->linear_num_value_heads * c->linear_key_head_dim * c->linear_value_head_dim +
               (int64_t)(c->linear_conv_kernel - 1) * conv_channels(c);
    default: return 0;
    }
}

int64_t session_state_bytes(const struct model *m, int64_t context)
{
    const struct model_config *c = &m->cfg;
    int64_t total = 0;
    for (int i = 0; i < c->num_layers; i++)
        total += m->layers[i].mixer == MIXER_SOFTMAX_ATTENTION
                     ? kv_cache_bytes_for(m->layers[i].window, c->num_kv_heads, c->head_dim, context)
                     : recurrent_state_floats(m, i) * (int64_t)sizeof(float);
    return total;
}

/* ---- life cycle --------------------------------------------------------- */

static int alloc_scratch(struct session *s, int B)
{
    const struct model_config *c = &s->m->cfg;
    const struct widths w = model_widths(s->m);
    struct session_scratch *a = &s->a;
#define ALLOC(field, width) (a->field = malloc((size_t)B * (size_t)max64(width, 1) * sizeof(float)))
    bool ok = ALLOC(x, c->hidden_size) && ALLOC(xn, c->hidden_size) && ALLOC(proj, c->hidden_size) &&
              ALLOC(wide, w.wide) && ALLOC(q, w.head_in) && ALLOC(k, w.head_in) && ALLOC(v, w.head_in) &&
              ALLOC(gate, w.gate) && ALLOC(mix, w.mix) && ALLOC(conv_in, w.conv) && ALLOC(conv, w.conv) && ALLOC(kern, w.kern) && ALLOC(g, w.heads) &&
              ALLOC(beta, w.heads) && ALLOC(ffn_gate, w.ffn) && ALLOC(ffn_up, w.ffn);
#undef ALLOC
    if (ok && c->num_experts > 0) ok = moe_scratch_init(&a->moe, c, B) == 0;
    return ok ? 0 : -1;
}

static int init_layer_states(struct session *s)
{
    const struct model_config *c = &s->m->cfg;
    for (int i = 0; i < c->num_layers; i++) {
        struct layer_state *st = &s->layers[i];
        kv_cache_init(&st->kv, s->m->layers[i].window, c->num_kv_heads, c->head_dim);
        const struct layer *L = &s->m->layers[i];
        if (L->mixer == MIXER_LIGHTNING) {
            st->S = calloc((size_t)L->lightning.heads * L->lightning.head_dim * L->lightning.head_dim, sizeof(float));
            if (!st->S) return -1;
        } else if (L->mixer == MIXER_JET) {
            st->S = calloc((size_t)L->jet.heads * L->jet.dk * L->jet.dv, sizeof(float));
            st->conv_tail = calloc((size_t)(L->jet.conv_size - 1) * L->jet.heads * L->jet.dv + 1, sizeof(float));
            if (!st->S || !st->conv_tail) return -1;
        } else if (s->m->layers[i].mixer == MIXER_GATED_DELTA) {
            st->S = calloc((size_t)c->linear_num_value_heads * c->linear_key_head_dim * c->linear_value_head_dim,
                           sizeof(float));
            st->conv_tail = calloc((size_t)(c->linear_conv_kernel - 1) * (size_t)conv_channels(c) + 1, sizeof(float));
            if (!st->S || !st->conv_tail) return -1;
        }
    }
    return 0;
}

static void free_layer_states(struct session *s)
{
    for (int i = 0; i < s->m->cfg.num_layers; i++) {
        kv_cache_free(&s->layers[i].kv);
        free(s->layers[i].S);
        free(s->layers[i].conv_tail);
        s->layers[i].S = s->layers[i].conv_tail = NULL;
    }
}

int session_init(struct session *s, const struct model *m, int max_batch, struct hr_error *e)
{
    memset(s, 0, sizeof *s);
    s->m = m;
    s->max_batch = max_batch > 0 ? max_batch : SESSION_DEFAULT_BATCH;
    const struct model_config *c = &m->cfg;
    s->layers = calloc((size_t)c->num_layers, sizeof *s->layers);
    if (!s->layers || alloc_scratch(s, s->max_batch) != 0 || rope_table_init(&s->rope, s->max_batch, c->rotary_dim) ||
        init_layer_states(s) != 0) {
        session_free(s);
        return hr_fail(e, "%s: out of memory allocating a session", m->dir);
    }
    return 0;
}

void session_free(struct session *s)
{
    if (s->layers) free_layer_states(s);
    free(s->layers);
    rope_table_free(&s->rope);
    struct session_scratch *a = &s->a;
    free(a->x), free(a->xn), free(a->proj), free(a->wide), free(a->q), free(a->k), free(a->v);
    free(a->gate), free(a->mix), free(a->conv_in), free(a->conv), free(a->kern), free(a->g), free(a->beta), free(a->ffn_gate), free(a->ffn_up);
    moe_scratch_free(&a->moe);
    memset(s, 0, sizeof *s);
}

void session_reset(struct session *s)
{
    free_layer_states(s);
    init_layer_states(s); /* zeroed states of the same sizes just freed */
    s->pos = 0;
}

/* ---- mixers --------------------------------------------------------------- */

/* Softmax attention of one layer on s->a.xn into s->a.proj:
 *   q, k, v = xn Wqᵀ, xn Wkᵀ, xn Wvᵀ   (Qwen3-Next: q_proj also yields a gate per head)
 *   q, k ← RMSNorm per head (when the model has q/k norms), then RoPE (unless the
 *   layer is position-free, as HypeNet's); HypeNet: q ← HyPE-scaled q (hype.h);
 *   o = attention(q, k, v), scale 1/√head_dim;
 *   o ⊙= sigmoid(gate) (gate from q_proj, or from o_gate);  out = o Woᵀ */
static int softmax_attention_mixer(struct session *s, int li, int n)
{
    const struct model_config *c = &s->m->cfg;
    const struct attention_weights *w = &s->m->layers[li].attn;
    struct session_scratch *a = &s->a;
    const int H = c->num_heads, d = c->head_dim;
    if (w->output_gate) {
        /* q_proj rows per head: [q_h (d) | gate_h (d)]. */
        linear(a->xn, n, &w->q, w->q_bias, a->wide);
#pragma omp parallel for schedule(static) if ((int64_t)n * H * 2 * d >= PARALLEL_MIN_ELEMENTS)
        for (int t = 0; t < n; t++)
            for (int h = 0; h < H; h++) {
                const float *src = a->wide + ((size_t)t * H + h) * 2 * d;
                memcpy(a->q + ((size_t)t * H + h) * d, src, (size_t)d * sizeof(float));
                memcpy(a->gate + ((size_t)t * H + h) * d, src + d, (size_t)d * sizeof(float));
            }
    } else {
        linear(a->xn, n, &w->q, w->q_bias, a->q);
    }
    linear(a->xn, n, &w->k, w->k_bias, a->k);
    linear(a->xn, n, &w->v, w->v_bias, a->v);
    if (w->q_norm) rmsnorm(a->q, w->q_norm, n * H, d, c->rms_norm_eps, a->q);
    if (w->k_norm) rmsnorm(a->k, w->k_norm, n * c->num_kv_heads, d, c->rms_norm_eps, a->k);
    if (w->rope) {
        rope_apply(&s->rope, a->q, n, H, d);
        rope_apply(&s->rope, a->k, n, c->num_kv_heads, d);
    }
    query_scaling_apply(&w->q_scaling, a->q, n, H, d, s->pos); /* HyPE (hype.h); a no-op elsewhere */
    const float scale = 1.0f / sqrtf((float)d);
    struct attention_probe probe = {0};
    if (s->lens && s->lens->pass == 1) probe = (struct attention_probe){s->lens->position, s->lens->attn[li]};
    if (attention_forward(&s->layers[li].kv, a->q, a->k, a->v, n, s->pos, H, scale, a->mix,
                          probe.probs ? &probe : NULL) != 0)
        return -1;
    if (weight_present(&w->o_gate)) linear(a->xn, n, &w->o_gate, NULL, a->gate);
    if (w->output_gate || weight_present(&w->o_gate)) mul_sigmoid_inplace(a->mix, a->gate, (int64_t)n * H * d);
    linear(a->mix, n, &w->o, NULL, a->proj);
    return 0;
}

/* The lens on a lightning layer (lens.h): pass 1 keeps q_P; pass 2 sizes
 * each position's term λ^{P−j} |q_P·k_j| ‖v_j‖ of o_P = Σ_j λ^{P−j} (q_P·k_j) v_j. */
static void lens_lightning(struct session *s, int li, int n)
{
    const struct lightning_weights *w = &s->m->layers[li].lightning;
    struct lens *l = s->lens;
    const int H = w->heads, d = w->head_dim;
    const int64_t P = l->position;
    if (l->pass == 1) {
        if (!l->q_at[li]) return; /* a lens on the softmax layers only (niah --lens) */
        if (P >= s->pos && P < s->pos + n) memcpy(l->q_at[li], s->a.q + (P - s->pos) * H * d, (size_t)H * d * sizeof(float));
        return;
    }
    for (int t = 0; t < n && s->pos + t <= P; t++)
        for (int h = 0; h < H; h++) {
            const float *k = s->a.k + ((int64_t)t * H + h) * d, *v = s->a.v + ((int64_t)t * H + h) * d;
            const double decay = exp((double)w->log_decay[h] * (double)(P - (s->pos + t)));
            double vv = 0;
            for (int i = 0; i < d; i++) vv += (double)v[i] * v[i];
            l->contrib[li][(int64_t)h * (P + 1) + s->pos + t] =
                (float)(decay * fabs((double)dot_f32(l->q_at[li] + (int64_t)h * d, k, d)) * sqrt(vv));
        }
}

/* Lightning attention (lightning.h), in two spellings:
 *   MiniMax (MiniMaxLightningAttention): [q_h | k_h | v_h] = silu(xn Wqkvᵀ) per head;
 *     no RoPE, no scale, decay slope scaled by layer depth;
 *   HypeNet (LightningAttention): q, k, v = xn Wᵀ; q, k ← RMSNorm per head, RoPE;
 *     q ← q/√d; k/v heads shared in groups when kv_heads < heads.
 * Then o = lightning(q, k, v) with log-decay −slope_h;
 *   o ← RMSNorm(o over all heads) ⊙ sigmoid(xn Wgᵀ);  out = o Woᵀ. */
static void lightning_mixer(struct session *s, int li, int n)
{
    const struct model_config *c = &s->m->cfg;
    const struct lightning_weights *w = &s->m->layers[li].lightning;
    struct session_scratch *a = &s->a;
    const int H = w->heads, d = w->head_dim;
    if (weight_present(&w->qkv)) {
        linear(a->xn, n, &w->qkv, NULL, a->wide);
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
        linear(a->xn, n, &w->q, NULL, a->q);
        linear(a->xn, n, &w->k, NULL, a->k);
        linear(a->xn, n, &w->v, NULL, a->v);
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
    if (s->lens) lens_lightning(s, li, n);
    float *S = s->layers[li].S;
    if (n == 1)
        lightning_step(H, d, d, a->q, a->k, a->v, a->g, S, a->mix);
    else
        lightning_chunked(n, H, d, d, a->q, a->k, a->v, a->g, S, a->mix, LIGHTNING_DEFAULT_CHUNK);
    rmsnorm(a->mix, w->norm, n, H * d, w->norm_eps, a->mix);
    linear(a->xn, n, &w->gate, NULL, a->gate);
    mul_sigmoid_inplace(a->mix, a->gate, (int64_t)n * H * d);
    linear(a->mix, n, &w->out, NULL, a->proj);
}

static inline float softplusf(float x) { return x > 20.0f ? x : log1pf(expf(x)); } /* torch's threshold 20 */

/* Qwen3-Next Gated DeltaNet (transformers' Qwen3NextGatedDeltaNet):
 *   in_proj_qkvz rows per key head kh: [q (dk) | k (dk) | v (r·dv) | z (r·dv)], r = nv/nk;
 *   in_proj_ba rows per key head: [b (r) | a (r)];
 *   [q | k | v] (all heads of each) ← silu(causal depthwise conv, kernel K);
 *   value head h reads key head h / r; q, k ← L2-normalised (eps 1e-6), q /= √dk;
 *   β = sigmoid(b), g = −exp(A_log) · softplus(a + dt_bias);
 *   o = gated_delta(q, k, v, g, β);  o_h ← RMSNorm(o_h) · w ⊙ silu(z_h);  out = o Woᵀ */
static void gated_delta_mixer(struct session *s, int li, int n)
{
    const struct model_config *c = &s->m->cfg;
    const struct gated_delta_weights *w = &s->m->layers[li].delta;
    struct session_scratch *a = &s->a;
    const int nk = c->linear_num_key_heads, nv = c->linear_num_value_heads, dk = c->linear_key_head_dim,
              dv = c->linear_value_head_dim, r = nv / nk, K = c->linear_conv_kernel;
    const int C = (int)conv_channels(c), qkvz = (int)w->qkvz.rows, block = 2 * dk + 2 * r * dv;
    /* Projections side by side in `wide`: [n, qkvz] then [n, 2nv]. */
    float *proj_qkvz = a->wide, *proj_ba = a->wide + (size_t)n * qkvz;
    linear(a->xn, n, &w->qkvz, NULL, proj_qkvz);
    linear(a->xn, n, &w->ba, NULL, proj_ba);
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
    float *S = s->layers[li].S;
    if (n == 1)
        gated_delta_step(nv, dk, dv, a->q, a->k, a->v, a->g, a->beta, S, a->mix);
    else
        gated_delta_chunked(n, nv, dk, dv, a->q, a->k, a->v, a->g, a->beta, S, a->mix, GATED_DELTA_DEFAULT_CHUNK);
    rmsnorm(a->mix, w->norm, n * nv, dv, c->rms_norm_eps, a->mix);
    mul_silu_inplace(a->mix, a->gate, (int64_t)n * nv * dv);
    linear(a->mix, n, &w->out, NULL, a->proj);
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

/* Jet-Nemotron's JetBlock (NVlabs/Jet-Nemotron jet_block.py, dynamic_conv.py):
 *   q = silu(xn Wqᵀ), k = silu(xn Wkᵀ)                      [heads, dk]
 *   kern_t = W2 silu(W1 xn_t) + b2 → [value channels, K]      (tap fastest)
 *   v = silu(causal_conv(xn Wvᵀ, kern_t))                     [heads, dv]
 *   β = sigmoid(xn Wbᵀ), g = −exp(A_log) · softplus(xn Waᵀ + dt_bias)
 *   q, k ← L2-normalised, q /= √dk;  o = gated_delta(q, k, v, g, β)
 *   o_h ← RMSNorm(o_h, norm_eps) · w ⊙ silu(xn Wgᵀ)_h;  out = o Woᵀ */
static void jet_mixer(struct session *s, int li, int n)
{
    const struct jet_weights *w = &s->m->layers[li].jet;
    struct session_scratch *a = &s->a;
    const int H = w->heads, dk = w->dk, dv = w->dv, C = H * dv, K = w->conv_size;
    linear(a->xn, n, &w->q, NULL, a->q);
    linear(a->xn, n, &w->k, NULL, a->k);
    silu_inplace(a->q, (int64_t)n * H * dk);
    silu_inplace(a->k, (int64_t)n * H * dk);
    /* The dynamic convolution's per-token kernels, then the convolution. */
    linear(a->xn, n, &w->gen1, NULL, a->wide);
    silu_inplace(a->wide, (int64_t)n * w->gen_hidden);
    linear(a->wide, n, &w->gen2, w->gen2_bias, a->kern);
    linear(a->xn, n, &w->v, NULL, a->conv_in);
    causal_conv_forward(a->conv_in, n, C, K, a->kern, (size_t)C * K, s->layers[li].conv_tail, a->v);
    silu_inplace(a->v, (int64_t)n * C);
    linear(a->xn, n, &w->b, NULL, a->beta);
    linear(a->xn, n, &w->a, NULL, a->g);
    for (int t = 0; t < n; t++)
        for (int h = 0; h < H; h++) {
            const size_t i = (size_t)t * H + h;
            a->beta[i] = sigmoidf(a->beta[i]);
            a->g[i] = -expf(w->A_log[h]) * softplusf(a->g[i] + w->dt_bias[h]);
        }
    l2norm_heads(a->q, (int64_t)n * H, dk, 1.0f / sqrtf((float)dk));
    l2norm_heads(a->k, (int64_t)n * H, dk, 1.0f);
    float *S = s->layers[li].S;
    if (n == 1)
        gated_delta_step(H, dk, dv, a->q, a->k, a->v, a->g, a->beta, S, a->mix);
    else
        gated_delta_chunked(n, H, dk, dv, a->q, a->k, a->v, a->g, a->beta, S, a->mix, GATED_DELTA_DEFAULT_CHUNK);
    rmsnorm(a->mix, w->o_norm, n * H, dv, w->norm_eps, a->mix);
    linear(a->xn, n, &w->g, NULL, a->gate);
    mul_silu_inplace(a->mix, a->gate, (int64_t)n * C);
    linear(a->mix, n, &w->o, NULL, a->proj);
}

/* ---- the decoder ---------------------------------------------------------- */

/* x ← α·r + β·proj with r = x (pre-norm) or r = xn (MiniMax). */
static void residual(struct session *s, const struct layer *L, int n, float alpha, float beta)
{
    const int64_t count = (int64_t)n * s->m->cfg.hidden_size;
    struct session_scratch *a = &s->a;
    if (!L->residual_from_norm) {
        add_inplace(a->x, a->proj, count);
        return;
    }
#pragma omp parallel for schedule(static) if (count >= PARALLEL_MIN_ELEMENTS)
    for (int64_t i = 0; i < count; i++) a->x[i] = alpha * a->xn[i] + beta * a->proj[i];
}

static int layer_forward(struct session *s, int li, int n)
{
    const struct model_config *c = &s->m->cfg;
    const struct layer *L = &s->m->layers[li];
    struct session_scratch *a = &s->a;
    rmsnorm(a->x, L->input_norm, n, c->hidden_size, c->rms_norm_eps, a->xn);
    switch (L->mixer) {
    case MIXER_SOFTMAX_ATTENTION:
        if (softmax_attention_mixer(s, li, n) != 0) return -1;
        break;
    case MIXER_LIGHTNING: lightning_mixer(s, li, n); break;
    case MIXER_GATED_DELTA: gated_delta_mixer(s, li, n); break;
    case MIXER_JET: jet_mixer(s, li, n); break;
    }
    residual(s, L, n, L->mix_alpha, L->mix_beta);
    rmsnorm(a->x, L->post_attention_norm, n, c->hidden_size, c->rms_norm_eps, a->xn);
    if (L->sparse)
        moe_forward(&L->moe, a->xn, n, c->hidden_size, &a->moe, a->proj);
    else
        swiglu_mlp(&L->mlp, a->xn, n, a->ffn_gate, a->ffn_up, a->proj);
    residual(s, L, n, L->ffn_alpha, L->ffn_beta);
    return 0;
}

/* One micro-batch of n <= max_batch tokens. */
static int forward_batch(struct session *s, const int32_t *ids, int n, float *logits, bool all_logits,
                         struct hr_error *e)
{
    const struct model *m = s->m;
    const struct model_config *c = &m->cfg;
    struct session_scratch *a = &s->a;
    for (int t = 0; t < n; t++)
        weight_row(&m->embed, ids[t], a->x + (int64_t)t * c->hidden_size);
    rope_table_fill(&s->rope, c, s->pos, n);
    for (int li = 0; li < c->num_layers; li++)
        if (layer_forward(s, li, n) != 0)
            return hr_fail(e, "%s: out of memory growing the KV cache at position %lld", m->dir, (long long)s->pos);
    s->pos += n;
    if (!logits) return 0;
    /* Final norm and lm_head only for the rows the caller wants. */
    const int first = all_logits ? 0 : n - 1, rows = n - first;
    rmsnorm(a->x + (int64_t)first * c->hidden_size, m->final_norm, rows, c->hidden_size, c->rms_norm_eps, a->xn);
    linear(a->xn, rows, &m->lm_head, NULL, logits);
    return 0;
}

int session_forward(struct session *s, const int32_t *ids, int n, float *logits, bool all_logits,
                    struct hr_error *e)
{
    const int V = s->m->cfg.vocab_size;
    if (n <= 0) return hr_fail(e, "session: no tokens to process");
    for (int t = 0; t < n; t++)
        if (ids[t] < 0 || ids[t] >= V)
            return hr_fail(e, "token id %d at index %d is outside the vocabulary [0, %d)", ids[t], t, V);
    for (int done = 0; done < n;) {
        int b = n - done < s->max_batch ? n - done : s->max_batch;
        bool last = done + b == n;
        float *out = !logits ? NULL : all_logits ? logits + (int64_t)done * V : last ? logits : NULL;
        if (forward_batch(s, ids + done, b, out, all_logits, e) != 0) return -1;
        done += b;
    }
    return 0;
}
