/* MiniMax (transformers' modeling_minimax.py; MiniMax-Text-01): layers of
 * lightning attention (linear_attention) and GQA softmax attention with full
 * RoPE and no q/k norm, each followed by a Mixtral-style mixture of experts.
 * The residual is taken after the norm (DeepNorm-like):
 *   h = norm(x);  x = α_mix · h + β_mix · mixer(h);  h = norm(x);  x = α_mlp · h + β_mlp · moe(h). */
#include "engine/arch/minimax.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "engine/arch/common.h"

/* Per-head decay slope (MiniMaxLightningAttention.get_slope_rate):
 *   s_h = (2^{−8/H})^{h+1} · (1 − l/(L − 1 + 1e−5) + 1e−5)
 * for layer l of L; the layer's decay per token is e^{−s_h}. */
static float *lightning_log_decay(int heads, int layer, int num_layers)
{
    float *g = malloc((size_t)heads * sizeof(float));
    if (!g) return NULL;
    const double base = 1.0 / pow(2.0, 8.0 / heads);
    const double factor = 1.0 - layer / (num_layers - 1 + 1e-5) + 1e-5;
    for (int h = 0; h < heads; h++) g[h] = (float)-(pow(base, h + 1) * factor);
    return g;
}

static int bind_lightning(struct weight_binder *b, const struct model_config *c, int i, struct lightning_weights *w)
{
    const int64_t h = c->hidden_size, d = (int64_t)c->num_heads * c->head_dim;
#define LIN(suffix) "model.layers.%d.self_attn." suffix
    if (bind_matrix(b, &w->qkv, 3 * d, h, LIN("qkv_proj.weight"), i) ||
        bind_matrix(b, &w->gate, d, h, LIN("output_gate.weight"), i) ||
        bind_matrix(b, &w->out, h, d, LIN("out_proj.weight"), i) || bind_vector(b, &w->norm, d, LIN("norm.weight"), i))
        return -1;
    /* Buffers transformers saves; they equal the slope formula above. */
    binder_ignore(b, LIN("slope_rate"), i);
    binder_ignore(b, LIN("query_decay"), i);
    binder_ignore(b, LIN("key_decay"), i);
    binder_ignore(b, LIN("diagonal_decay"), i);
#undef LIN
    w->heads = w->kv_heads = c->num_heads;
    w->head_dim = c->head_dim;
    w->norm_eps = 1e-6f; /* MiniMaxRMSNorm's default, whatever rms_norm_eps says */
    w->log_decay = lightning_log_decay(c->num_heads, i, c->num_layers);
    return w->log_decay ? 0 : hr_fail(b->e, "out of memory");
}

static int bind_moe(struct weight_binder *b, const struct model_config *c, int i, struct moe_weights *w)
{
    w->num_experts = c->num_experts;
    w->top_k = c->experts_per_token;
    w->norm_topk_prob = c->norm_topk_prob;
    if (bind_matrix(b, &w->router, c->num_experts, c->hidden_size, "model.layers.%d.block_sparse_moe.gate.weight", i))
        return -1;
    w->experts = calloc((size_t)c->num_experts, sizeof *w->experts);
    if (!w->experts) return hr_fail(b->e, "out of memory");
    for (int e = 0; e < c->num_experts; e++) {
        char prefix[96];
        snprintf(prefix, sizeof prefix, "model.layers.%d.block_sparse_moe.experts.%d", i, e);
        if (bind_swiglu(b, &w->experts[e], c->hidden_size, c->moe_intermediate_size, prefix, "w1", "w3", "w2"))
            return -1;
    }
    return 0;
}

static int minimax_bind(struct weight_binder *b, struct model *m)
{
    const struct model_config *c = &m->cfg;
    if (c->num_experts < 1)
        return hr_fail(b->e, "%s/config.json: field 'num_local_experts' must be >= 1 for minimax", m->dir);
    if (bind_embeddings_and_head(b, m, false)) return -1;
    const struct attention_spec spec = {0};
    for (int i = 0; i < c->num_layers; i++) {
        struct layer *L = &m->layers[i];
        L->kind = c->layer_kinds[i];
        L->window = L->kind == LAYER_SLIDING_ATTENTION ? c->sliding_window : 0;
        L->residual_from_norm = true;
        L->sparse = true;
        const bool linear = L->kind == LAYER_LINEAR_ATTENTION;
        L->mixer = linear ? MIXER_LIGHTNING : MIXER_SOFTMAX_ATTENTION;
        L->mix_alpha = (float)(linear ? c->linear_attn_alpha : c->full_attn_alpha);
        L->mix_beta = (float)(linear ? c->linear_attn_beta : c->full_attn_beta);
        L->ffn_alpha = (float)c->mlp_alpha;
        L->ffn_beta = (float)c->mlp_beta;
        if (bind_layer_norms(b, c, i, false, L) ||
            (linear ? bind_lightning(b, c, i, &L->lightning) : bind_softmax_attention(b, c, i, &spec, &L->attn)) ||
            bind_moe(b, c, i, &L->moe))
            return -1;
    }
    return 0;
}

/* Full layers: q_proj, k_proj. Lightning layers: the q and k rows of the
 * fused qkv_proj, [q_h | k_h | v_h] per head. */
static int minimax_qk_parts(const struct model_config *c, int i, struct qk_parts *p, struct hr_error *e)
{
    (void)e;
    const int64_t d = c->head_dim;
    if (c->layer_kinds[i] == LAYER_LINEAR_ATTENTION) {
        qk_add(p, QK_QUERY, 0, d, 3 * d, c->num_heads, "model.layers.%d.self_attn.qkv_proj.weight", i);
        qk_add(p, QK_KEY, d, d, 3 * d, c->num_heads, "model.layers.%d.self_attn.qkv_proj.weight", i);
        qk_add(p, QK_VALUE, 2 * d, d, 3 * d, c->num_heads, "model.layers.%d.self_attn.qkv_proj.weight", i);
        qk_add_whole(p, QK_OUTPUT, "model.layers.%d.self_attn.out_proj.weight", i);
    } else {
        qk_add_whole(p, QK_QUERY, "model.layers.%d.self_attn.q_proj.weight", i);
        qk_add_whole(p, QK_KEY, "model.layers.%d.self_attn.k_proj.weight", i);
        qk_add_whole(p, QK_VALUE, "model.layers.%d.self_attn.v_proj.weight", i);
        qk_add_whole(p, QK_OUTPUT, "model.layers.%d.self_attn.o_proj.weight", i);
    }
    return 0;
}

/* MiniMax's spellings: the layer plan as layer_types or (remote-code configs)
 * attn_type_list, 1 = softmax, 0 = lightning; Mixtral's num_local_experts
 * with intermediate_size as the expert width, top-k always renormalised; the
 * residual factors (*_alpha_factor, *_beta_factor, default 1). */
static int minimax_read_config(struct model_config *c, struct hr_error *e)
{
    int local = 0;
    if (cfg_int(c, c->json, "num_local_experts", 0, 0, &local, e)) return -1;
    if (!c->num_experts) c->num_experts = local;
    const cJSON *width = cJSON_GetObjectItemCaseSensitive(c->json, "moe_intermediate_size");
    if (local && (!width || cJSON_IsNull(width))) c->moe_intermediate_size = c->intermediate_size;
    c->norm_topk_prob = true; /* Mixtral always renormalises the top-k */
    const struct {
        const char *field;
        double *out;
    } factors[] = {{"linear_attn_alpha_factor", &c->linear_attn_alpha},
                   {"linear_attn_beta_factor", &c->linear_attn_beta},
                   {"full_attn_alpha_factor", &c->full_attn_alpha},
                   {"full_attn_beta_factor", &c->full_attn_beta},
                   {"mlp_alpha_factor", &c->mlp_alpha},
                   {"mlp_beta_factor", &c->mlp_beta}};
    for (size_t i = 0; i < sizeof factors / sizeof *factors; i++)
        if (cfg_number(c, c->json, factors[i].field, 1.0, factors[i].out, e)) return -1;
    const cJSON *types = cJSON_GetObjectItemCaseSensitive(c->json, "layer_types");
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(c->json, "attn_type_list");
    if ((types && !cJSON_IsNull(types)) || !list) return config_layer_plan(c, "layer_types", NULL, 0, 0, e);
    if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) != c->num_layers)
        return hr_fail(e, "%s: field 'attn_type_list' must be an array of num_hidden_layers (%d) numbers", c->path,
                       c->num_layers);
    if (config_layer_kinds_alloc(c, e)) return -1;
    for (int i = 0; i < c->num_layers; i++) {
        const cJSON *t = cJSON_GetArrayItem(list, i);
        if (!cJSON_IsNumber(t) || (t->valueint != 0 && t->valueint != 1))
            return hr_fail(e, "%s: field 'attn_type_list'[%d] must be 0 or 1", c->path, i);
        c->layer_kinds[i] = t->valueint ? LAYER_FULL_ATTENTION : LAYER_LINEAR_ATTENTION;
    }
    return config_layer_window(c, 0, e);
}

const struct architecture arch_minimax = {
    .model_type = "minimax",
    .hf_class = "MiniMaxForCausalLM",
    .description = "MiniMax: lightning attention + GQA softmax attention, Mixtral MoE, post-norm residuals",
    .read_config = minimax_read_config,
    .qk_parts = minimax_qk_parts,
    .bind = minimax_bind,
};
