/* The decoder: embeddings, then per layer
 *     xn = RMSNorm(x);  x ← residual(x, block(xn));  xn = RMSNorm(x);  x ← residual(x, ffn(xn))
 * then the final norm and lm_head; and the per-sequence state it owns (KV
 * caches, recurrent states, convolution tails, activation scratch). What a
 * block computes lives in engine/layers/, one file per kind. */
#include "engine/session.h"

#include <stdlib.h>
#include <string.h>

#include "engine/layers/block.h"
#include "engine/ops/cpu.h"

/* ---- sizes ------------------------------------------------------------ */

static struct block_widths model_widths(const struct model *m)
{
    struct block_widths w = {0};
    for (int i = 0; i < m->cfg.num_layers; i++) block_kind(m->layers[i].mixer)->widths(m, &m->layers[i], &w);
    return w;
}

static int64_t ffn_width(const struct model_config *c)
{
    return block_max64(c->intermediate_size, block_max64(c->moe_intermediate_size, c->shared_expert_intermediate_size));
}

int64_t session_scratch_bytes(const struct model *m, int max_batch)
{
    const struct block_widths w = model_widths(m);
    int64_t per_token = 3 * (int64_t)m->cfg.hidden_size + w.wide + 3 * w.head_in + w.gate + w.mix + 2 * w.conv +
                        w.kern + 2 * w.heads + 2 * ffn_width(&m->cfg);
    return per_token * max_batch * (int64_t)sizeof(float) +
           (m->cfg.num_experts > 0 ? moe_scratch_bytes(&m->cfg, max_batch) : 0);
}

static struct recurrent_shape recurrent_of(const struct model *m, int li)
{
    return block_kind(m->layers[li].mixer)->recurrent(m, &m->layers[li]);
}

static int64_t matrix_state_floats(struct recurrent_shape r)
{
    return (int64_t)r.heads * r.dk * r.dv;
}

int64_t session_state_bytes(const struct model *m, int64_t context)
{
    const struct model_config *c = &m->cfg;
    int64_t total = 0;
    for (int i = 0; i < c->num_layers; i++) {
        const struct recurrent_shape r = recurrent_of(m, i);
        total += r.heads == 0 ? kv_cache_bytes_for(m->layers[i].window, c->num_kv_heads, c->head_dim, context,
                                                   linear_compute() == COMPUTE_BF16)
                              : (matrix_state_floats(r) + r.conv_tail_floats) * (int64_t)sizeof(float);
    }
    return total;
}

/* The widest matrix a token passes through that linear() stages blocks of
 * into the workspace (BF16 ones widened; under bf16 compute, all: ops.h). */
static int64_t widest_staged(const struct model *m)
{
    int64_t widest = linear_stages(&m->lm_head) ? m->lm_head.cols : 0;
    for (int i = 0; i < m->cfg.num_layers; i++) {
        const struct layer *L = &m->layers[i];
        const struct weight *w[BLOCK_MAX_MATRICES + 4];
        int n = block_kind(L->mixer)->matrices(L, w);
        if (!L->sparse) {
            w[n++] = &L->mlp.gate, w[n++] = &L->mlp.up, w[n++] = &L->mlp.down;
        } else {
            w[n++] = &L->moe.router;
            if (L->moe.num_experts > 0) w[n++] = &L->moe.experts[0].down; /* experts share one shape */
            if (L->moe.num_experts > 0) w[n++] = &L->moe.experts[0].up;
            if (L->moe.has_shared) w[n++] = &L->moe.shared.down;
        }
        for (int k = 0; k < n; k++)
            if (linear_stages(w[k]) && w[k]->cols > widest) widest = w[k]->cols;
    }
    return widest;
}

/* The largest per-thread workspace any kernel needs for n tokens at pos. */
static int64_t workspace_floats(const struct model *m, int64_t staged_cols, int n, int64_t pos)
{
    int64_t floats = linear_workspace_floats(n, staged_cols);
    for (int i = 0; i < m->cfg.num_layers; i++) {
        const struct layer *L = &m->layers[i];
        floats = block_max64(floats, block_kind(L->mixer)->workspace_floats(m, L, n, pos));
    }
    return floats;
}

int64_t session_workspace_bytes(const struct model *m, int threads, int max_batch, int64_t context, int64_t staged_cols)
{
    /* The largest of a full batch and the short batch that ends at the context. */
    const int64_t widest = widest_staged(m), bf16 = widest > staged_cols ? widest : staged_cols,
                  last = context - (context - 1) % max_batch;
    const int64_t floats = block_max64(workspace_floats(m, bf16, max_batch, 0),
                                       workspace_floats(m, bf16, (int)(context - last + 1), last - 1));
    return (int64_t)threads * ((floats + 15) / 16 * 16) * (int64_t)sizeof(float);
}

/* Before a batch of n tokens: room for every kernel at this position and
 * thread count. The only place a forward pass allocates kernel scratch. */
static int reserve_workspace(struct session *s, int n)
{
    return workspace_reserve(&s->ws, cpu_threads(), workspace_floats(s->m, s->widest_staged, n, s->pos));
}

/* ---- life cycle --------------------------------------------------------- */

static int alloc_scratch(struct session *s, int B)
{
    const struct model_config *c = &s->m->cfg;
    const struct block_widths w = model_widths(s->m);
    const int64_t ffn = ffn_width(c);
    struct session_scratch *a = &s->a;
#define ALLOC(field, width) (a->field = malloc((size_t)B * (size_t)block_max64(width, 1) * sizeof(float)))
    bool ok = ALLOC(x, c->hidden_size) && ALLOC(xn, c->hidden_size) && ALLOC(proj, c->hidden_size) &&
              ALLOC(wide, w.wide) && ALLOC(q, w.head_in) && ALLOC(k, w.head_in) && ALLOC(v, w.head_in) &&
              ALLOC(gate, w.gate) && ALLOC(mix, w.mix) && ALLOC(conv_in, w.conv) && ALLOC(conv, w.conv) &&
              ALLOC(kern, w.kern) && ALLOC(g, w.heads) && ALLOC(beta, w.heads) && ALLOC(ffn_gate, ffn) &&
              ALLOC(ffn_up, ffn);
#undef ALLOC
    if (ok && c->num_experts > 0) ok = moe_scratch_init(&a->moe, c, B) == 0;
    return ok ? 0 : -1;
}

static int init_layer_states(struct session *s)
{
    const struct model_config *c = &s->m->cfg;
    for (int i = 0; i < c->num_layers; i++) {
        struct layer_state *st = &s->layers[i];
        kv_cache_init(&st->kv, s->m->layers[i].window, c->num_kv_heads, c->head_dim, linear_compute() == COMPUTE_BF16);
        const struct recurrent_shape r = recurrent_of(s->m, i);
        if (r.heads == 0) continue;
        st->S_floats = matrix_state_floats(r);
        st->conv_tail_floats = r.conv_tail_floats;
        st->S = calloc((size_t)st->S_floats, sizeof(float));
        st->conv_tail = calloc((size_t)st->conv_tail_floats + 1, sizeof(float));
        if (!st->S || !st->conv_tail) return -1;
    }
    return 0;
}

int session_init(struct session *s, const struct model *m, int max_batch, struct hr_error *e)
{
    memset(s, 0, sizeof *s);
    s->m = m;
    s->max_batch = max_batch > 0 ? max_batch : SESSION_DEFAULT_BATCH;
    const struct model_config *c = &m->cfg;
    s->layers = calloc((size_t)c->num_layers, sizeof *s->layers);
    s->widest_staged = widest_staged(m);
    if (!s->layers || alloc_scratch(s, s->max_batch) != 0 || rope_table_init(&s->rope, s->max_batch, c->rotary_dim) ||
        init_layer_states(s) != 0 || reserve_workspace(s, s->max_batch) != 0) {
        session_free(s);
        return hr_fail(e, "%s: out of memory allocating a session", m->dir);
    }
    return 0;
}

void session_free(struct session *s)
{
    for (int i = 0; s->layers && i < s->m->cfg.num_layers; i++) {
        kv_cache_free(&s->layers[i].kv);
        free(s->layers[i].S);
        free(s->layers[i].conv_tail);
    }
    free(s->layers);
    rope_table_free(&s->rope);
    struct session_scratch *a = &s->a;
    free(a->x), free(a->xn), free(a->proj), free(a->wide), free(a->q), free(a->k), free(a->v);
    free(a->gate), free(a->mix), free(a->conv_in), free(a->conv), free(a->kern), free(a->g), free(a->beta);
    free(a->ffn_gate), free(a->ffn_up);
    moe_scratch_free(&a->moe);
    workspace_free(&s->ws);
    memset(s, 0, sizeof *s);
}

void session_reset(struct session *s)
{
    /* A KV cache needs no clearing: attention reads only positions below s->pos. */
    for (int i = 0; i < s->m->cfg.num_layers; i++) {
        struct layer_state *st = &s->layers[i];
        if (st->S) memset(st->S, 0, (size_t)st->S_floats * sizeof(float));
        if (st->conv_tail) memset(st->conv_tail, 0, (size_t)st->conv_tail_floats * sizeof(float));
    }
    s->pos = 0;
}

/* ---- snapshots ------------------------------------------------------------- */

/* Floats of a sliding-window cache's ring (keys and values; bf16 rows take
 * half as many), 0 for a full cache. */
static int64_t ring_floats(const struct kv_cache *kv)
{
    const int64_t numbers = kv->window > 0 ? 2 * (int64_t)kv->window * kv->kv_heads * kv->head_dim : 0;
    return kv->bf16 ? (numbers + 1) / 2 : numbers;
}

int64_t session_snapshot_floats(const struct session *s)
{
    int64_t total = 0;
    for (int i = 0; i < s->m->cfg.num_layers; i++) {
        const struct layer_state *st = &s->layers[i];
        total += st->S_floats + st->conv_tail_floats + ring_floats(&st->kv);
    }
    return total;
}

/* Copies each layer's state between the session and a snapshot, in layer
 * order: S, conv tail, ring keys, ring values (as bytes: float32 or bf16
 * rows). A ring not yet allocated (no batch has run) is all zeros in the
 * snapshot. */
static void snapshot_copy(struct session *s, float *snap, bool save)
{
    for (int i = 0; i < s->m->cfg.num_layers; i++) {
        struct layer_state *st = &s->layers[i];
        float *parts[2] = {st->S, st->conv_tail};
        const int64_t sizes[2] = {st->S_floats, st->conv_tail_floats};
        for (int p = 0; p < 2; p++) {
            if (sizes[p] == 0) continue;
            memcpy(save ? snap : parts[p], save ? parts[p] : snap, (size_t)sizes[p] * sizeof(float));
            snap += sizes[p];
        }
        const struct kv_cache *kv = &st->kv;
        if (kv->window == 0) continue;
        const size_t half =
            (size_t)kv->window * kv->kv_heads * kv->head_dim * (kv->bf16 ? sizeof(uint16_t) : sizeof(float));
        void *ring[2] = {kv->bf16 ? (void *)kv->kh : (void *)kv->k, kv->bf16 ? (void *)kv->vh : (void *)kv->v};
        char *at = (char *)snap;
        for (int p = 0; p < 2; p++, at += half) {
            if (!save && ring[p]) memcpy(ring[p], at, half);
            if (save && ring[p]) memcpy(at, ring[p], half);
            if (save && !ring[p]) memset(at, 0, half);
        }
        snap += ring_floats(kv);
    }
}

void session_snapshot_save(const struct session *s, float *dst)
{
    snapshot_copy((struct session *)s, dst, true);
}

void session_snapshot_load(struct session *s, const float *src, int64_t pos)
{
    snapshot_copy(s, (float *)src, false);
    s->pos = pos;
}

void session_set_observer(struct session *s, const struct session_observer *o)
{
    s->observer = o;
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
    if (block_kind(L->mixer)->forward(s, li, n) != 0) return -1;
    session_observe_module(s, OBSERVE_MIXER_OUTPUT, li, a->proj, n, c->hidden_size, s->pos);
    residual(s, L, n, L->mix_alpha, L->mix_beta);
    rmsnorm(a->x, L->post_attention_norm, n, c->hidden_size, c->rms_norm_eps, a->xn);
    if (L->sparse)
        moe_forward(&L->moe, a->xn, n, c->hidden_size, &a->moe, a->proj, &s->ws);
    else
        swiglu_mlp(&L->mlp, a->xn, n, a->ffn_gate, a->ffn_up, a->proj, &s->ws);
    session_observe_module(s, OBSERVE_MLP_OUTPUT, li, a->proj, n, c->hidden_size, s->pos);
    residual(s, L, n, L->ffn_alpha, L->ffn_beta);
    session_observe_module(s, OBSERVE_LAYER_OUTPUT, li, a->x, n, c->hidden_size, s->pos);
    return 0;
}

/* One micro-batch of n <= max_batch tokens. */
static int forward_batch(struct session *s, const int32_t *ids, int n, float *logits, bool all_logits,
                         struct hr_error *e)
{
    const struct model *m = s->m;
    const struct model_config *c = &m->cfg;
    struct session_scratch *a = &s->a;
    if (reserve_workspace(s, n) != 0)
        return hr_fail(e, "%s: out of memory for kernel workspace at position %lld", m->dir, (long long)s->pos);
    for (int t = 0; t < n; t++) weight_row(&m->embed, ids[t], a->x + (int64_t)t * c->hidden_size);
    session_observe_module(s, OBSERVE_EMBEDDINGS, -1, a->x, n, c->hidden_size, s->pos);
    rope_table_fill(&s->rope, c->rope_theta, c->rope_type == ROPE_LINEAR ? c->rope_factor : 0, s->pos, n);
    for (int li = 0; li < c->num_layers; li++)
        if (layer_forward(s, li, n) != 0)
            return hr_fail(e, "%s: out of memory growing the KV cache at position %lld", m->dir, (long long)s->pos);
    s->pos += n;
    if (!logits) return 0;
    /* Final norm and lm_head only for the rows the caller wants. */
    const int first = all_logits ? 0 : n - 1, rows = n - first;
    rmsnorm(a->x + (int64_t)first * c->hidden_size, m->final_norm, rows, c->hidden_size, c->rms_norm_eps, a->xn);
    session_observe_module(s, OBSERVE_FINAL_NORM, -1, a->xn, rows, c->hidden_size, s->pos - n + first);
    linear(a->xn, rows, &m->lm_head, NULL, logits, &s->ws);
    return 0;
}

int session_forward(struct session *s, const int32_t *ids, int n, float *logits, bool all_logits, struct hr_error *e)
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
