#include "session.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int alloc_scratch(struct session *s, int B)
{
    const struct model_config *c = &s->m->cfg;
    const size_t h = (size_t)c->hidden_size, qd = (size_t)c->num_heads * c->head_dim,
                 kvd = (size_t)c->num_kv_heads * c->head_dim, f = (size_t)c->intermediate_size;
    s->x = malloc(B * h * sizeof(float));
    s->xn = malloc(B * h * sizeof(float));
    s->q = malloc(B * qd * sizeof(float));
    s->k = malloc(B * kvd * sizeof(float));
    s->v = malloc(B * kvd * sizeof(float));
    s->mix = malloc(B * qd * sizeof(float));
    s->proj = malloc(B * h * sizeof(float));
    s->gate = malloc(B * f * sizeof(float));
    s->up = malloc(B * f * sizeof(float));
    return (s->x && s->xn && s->q && s->k && s->v && s->mix && s->proj && s->gate && s->up) ? 0 : -1;
}

int64_t session_scratch_bytes(const struct model *m, int max_batch)
{
    const struct model_config *c = &m->cfg;
    int64_t per_token = 3 * (int64_t)c->hidden_size + 2 * (int64_t)c->num_heads * c->head_dim +
                        2 * (int64_t)c->num_kv_heads * c->head_dim + 2 * (int64_t)c->intermediate_size;
    return per_token * max_batch * (int64_t)sizeof(float);
}

int64_t session_state_bytes(const struct model *m, int64_t context)
{
    const struct model_config *c = &m->cfg;
    int64_t total = 0;
    for (int i = 0; i < c->num_layers; i++)
        total += kv_cache_bytes_for(m->layers[i].window, c->num_kv_heads, c->head_dim, context);
    return total;
}

int session_init(struct session *s, const struct model *m, int max_batch, struct hr_error *e)
{
    memset(s, 0, sizeof *s);
    s->m = m;
    s->max_batch = max_batch > 0 ? max_batch : SESSION_DEFAULT_BATCH;
    const struct model_config *c = &m->cfg;
    s->kv = calloc((size_t)c->num_layers, sizeof *s->kv);
    if (!s->kv || alloc_scratch(s, s->max_batch) != 0 || rope_table_init(&s->rope, s->max_batch, c->rotary_dim)) {
        session_free(s);
        return hr_fail(e, "%s: out of memory allocating a session", m->dir);
    }
    for (int i = 0; i < c->num_layers; i++)
        kv_cache_init(&s->kv[i], m->layers[i].window, c->num_kv_heads, c->head_dim);
    return 0;
}

void session_free(struct session *s)
{
    if (s->kv)
        for (int i = 0; i < s->m->cfg.num_layers; i++) kv_cache_free(&s->kv[i]);
    free(s->kv);
    rope_table_free(&s->rope);
    free(s->x), free(s->xn), free(s->q), free(s->k), free(s->v);
    free(s->mix), free(s->proj), free(s->gate), free(s->up);
    memset(s, 0, sizeof *s);
}

void session_reset(struct session *s)
{
    for (int i = 0; i < s->m->cfg.num_layers; i++) {
        kv_cache_free(&s->kv[i]);
        kv_cache_init(&s->kv[i], s->m->layers[i].window, s->m->cfg.num_kv_heads, s->m->cfg.head_dim);
    }
    s->pos = 0;
}

/* Softmax-attention mixer of one layer on the normed input s->xn:
 *   q, k, v = xn Wqᵀ, xn Wkᵀ, xn Wvᵀ;  q, k ← RMSNorm per head (Qwen3);
 *   q, k ← RoPE;  o = attention(q, k, v) Woᵀ  (scale 1/√head_dim). */
static int softmax_attention_mixer(struct session *s, int li, int n)
{
    const struct model_config *c = &s->m->cfg;
    const struct attention_weights *a = &s->m->layers[li].attn;
    linear(s->xn, n, &a->q, a->q_bias, s->q);
    linear(s->xn, n, &a->k, a->k_bias, s->k);
    linear(s->xn, n, &a->v, a->v_bias, s->v);
    if (a->q_norm) rmsnorm(s->q, a->q_norm, n * c->num_heads, c->head_dim, c->rms_norm_eps, s->q);
    if (a->k_norm) rmsnorm(s->k, a->k_norm, n * c->num_kv_heads, c->head_dim, c->rms_norm_eps, s->k);
    rope_apply(&s->rope, s->q, n, c->num_heads, c->head_dim);
    rope_apply(&s->rope, s->k, n, c->num_kv_heads, c->head_dim);
    const float scale = 1.0f / sqrtf((float)c->head_dim);
    if (attention_forward(&s->kv[li], s->q, s->k, s->v, n, s->pos, c->num_heads, scale, s->mix) != 0) return -1;
    linear(s->mix, n, &a->o, NULL, s->proj);
    return 0;
}

/* SwiGLU MLP on s->xn into s->proj: down(silu(gate·x) ⊙ up·x). */
static void mlp(struct session *s, const struct mlp_weights *w, int n)
{
    linear(s->xn, n, &w->gate, NULL, s->gate);
    linear(s->xn, n, &w->up, NULL, s->up);
    swiglu(s->gate, s->up, (int64_t)n * w->gate.rows, s->gate);
    linear(s->gate, n, &w->down, NULL, s->proj);
}

/* Pre-norm decoder layer: x += mixer(norm(x)); x += mlp(norm(x)). */
static int layer_forward(struct session *s, int li, int n)
{
    const struct model_config *c = &s->m->cfg;
    const struct layer *L = &s->m->layers[li];
    const int64_t nh = (int64_t)n * c->hidden_size;
    rmsnorm(s->x, L->input_norm, n, c->hidden_size, c->rms_norm_eps, s->xn);
    if (softmax_attention_mixer(s, li, n) != 0) return -1;
    add_inplace(s->x, s->proj, nh);
    rmsnorm(s->x, L->post_attention_norm, n, c->hidden_size, c->rms_norm_eps, s->xn);
    mlp(s, &L->mlp, n);
    add_inplace(s->x, s->proj, nh);
    return 0;
}

/* One micro-batch of n <= max_batch tokens. */
static int forward_batch(struct session *s, const int32_t *ids, int n, float *logits, bool all_logits,
                         struct hr_error *e)
{
    const struct model *m = s->m;
    const struct model_config *c = &m->cfg;
    for (int t = 0; t < n; t++)
        memcpy(s->x + (int64_t)t * c->hidden_size, m->embed + (int64_t)ids[t] * c->hidden_size,
               (size_t)c->hidden_size * sizeof(float));
    rope_table_fill(&s->rope, c, s->pos, n);
    for (int li = 0; li < c->num_layers; li++)
        if (layer_forward(s, li, n) != 0)
            return hr_fail(e, "%s: out of memory growing the KV cache at position %lld", m->dir, (long long)s->pos);
    s->pos += n;
    if (!logits) return 0;
    /* Final norm and lm_head only for the rows the caller wants. */
    const int first = all_logits ? 0 : n - 1, rows = n - first;
    float *h = s->x + (int64_t)first * c->hidden_size;
    rmsnorm(h, m->final_norm, rows, c->hidden_size, c->rms_norm_eps, s->xn);
    linear(s->xn, rows, &m->lm_head, NULL, logits);
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
