/* Qwen3-Next (transformers' modeling_qwen3_next.py): Gated DeltaNet layers
 * (linear_attention) and gated softmax-attention layers (q_proj also yields a
 * sigmoid output gate per head, q/k RMSNorm, partial RoPE), each followed by a
 * sparse MoE with a gated shared expert (or a dense MLP where configured).
 * Every RMSNorm except the DeltaNet's gated output norm is stored as w with
 * y = norm(x)·(1 + w); we bind 1 + w once at load. Pre-norm residuals.
 * mtp.* tensors (multi-token prediction, unused by transformers' forward)
 * are accepted and ignored. */
#include "engine/arch/qwen3_next.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/arch/common.h"
#include "engine/load/safetensors.h"
#include "stb_ds.h"

static int bind_gated_delta(struct weight_binder *b, const struct model_config *c, int i, struct gated_delta_weights *w)
{
    const int64_t h = c->hidden_size, nk = c->linear_num_key_heads, nv = c->linear_num_value_heads,
                  dk = c->linear_key_head_dim, dv = c->linear_value_head_dim;
    const int64_t conv_shape[3] = {2 * nk * dk + nv * dv, 1, c->linear_conv_kernel};
#define GDN(suffix) "model.layers.%d.linear_attn." suffix
    return bind_matrix(b, &w->qkvz, 2 * nk * dk + 2 * nv * dv, h, GDN("in_proj_qkvz.weight"), i) ||
                   bind_matrix(b, &w->ba, 2 * nv, h, GDN("in_proj_ba.weight"), i) ||
                   bind_array(b, &w->conv, 3, conv_shape, GDN("conv1d.weight"), i) ||
                   bind_vector(b, &w->A_log, nv, GDN("A_log"), i) ||
                   bind_vector(b, &w->dt_bias, nv, GDN("dt_bias"), i) ||
                   bind_vector(b, &w->norm, dv, GDN("norm.weight"), i) ||
                   bind_matrix(b, &w->out, h, nv * dv, GDN("out_proj.weight"), i)
               ? -1
               : 0;
#undef GDN
}

static int bind_sparse_moe(struct weight_binder *b, const struct model_config *c, int i, struct moe_weights *w)
{
    w->num_experts = c->num_experts;
    w->top_k = c->experts_per_token;
    w->norm_topk_prob = c->norm_topk_prob;
    if (bind_matrix(b, &w->router, c->num_experts, c->hidden_size, "model.layers.%d.mlp.gate.weight", i)) return -1;
    w->experts = calloc((size_t)c->num_experts, sizeof *w->experts);
    if (!w->experts) return hr_fail(b->e, "out of memory");
    char prefix[96];
    for (int e = 0; e < c->num_experts; e++) {
        snprintf(prefix, sizeof prefix, "model.layers.%d.mlp.experts.%d", i, e);
        if (bind_swiglu(b, &w->experts[e], c->hidden_size, c->moe_intermediate_size, prefix, "gate_proj", "up_proj",
                        "down_proj"))
            return -1;
    }
    if (c->shared_expert_intermediate_size > 0) {
        w->has_shared = true;
        const int64_t gate_shape[2] = {1, c->hidden_size};
        snprintf(prefix, sizeof prefix, "model.layers.%d.mlp.shared_expert", i);
        if (bind_swiglu(b, &w->shared, c->hidden_size, c->shared_expert_intermediate_size, prefix, "gate_proj",
                        "up_proj", "down_proj") ||
            bind_array(b, &w->shared_gate, 2, gate_shape, "model.layers.%d.mlp.shared_expert_gate.weight", i))
            return -1;
    }
    return 0;
}

static void ignore_mtp(struct weight_binder *b, struct model *m)
{
    for (ptrdiff_t fi = 0; fi < arrlen(m->weights.files); fi++)
        for (ptrdiff_t ti = 0; ti < arrlen(m->weights.files[fi].tensors); ti++)
            if (strncmp(m->weights.files[fi].tensors[ti].name, "mtp.", 4) == 0)
                binder_ignore(b, "%s", m->weights.files[fi].tensors[ti].name);
}

static int qwen3_next_bind(struct weight_binder *b, struct model *m)
{
    const struct model_config *c = &m->cfg;
    if (c->linear_num_key_heads < 1 || c->linear_num_value_heads < 1 || c->linear_key_head_dim < 1 ||
        c->linear_value_head_dim < 1 || c->linear_conv_kernel < 1)
        return hr_fail(b->e,
                       "%s/config.json: fields 'linear_num_key_heads', 'linear_num_value_heads', "
                       "'linear_key_head_dim', 'linear_value_head_dim', 'linear_conv_kernel_dim' are required "
                       "for qwen3_next",
                       m->dir);
    if (c->linear_num_value_heads % c->linear_num_key_heads != 0)
        return hr_fail(b->e,
                       "%s/config.json: field 'linear_num_key_heads' (%d) must divide linear_num_value_heads (%d)",
                       m->dir, c->linear_num_key_heads, c->linear_num_value_heads);
    if (bind_embeddings_and_head(b, m, true)) return -1;
    const struct attention_spec spec = {.qk_norm = true, .norm_plus_one = true, .output_gate = true};
    for (int i = 0; i < c->num_layers; i++) {
        struct layer *L = &m->layers[i];
        L->kind = c->layer_kinds[i];
        L->window = L->kind == LAYER_SLIDING_ATTENTION ? c->sliding_window : 0;
        L->mixer = L->kind == LAYER_LINEAR_ATTENTION ? MIXER_GATED_DELTA : MIXER_SOFTMAX_ATTENTION;
        L->mix_alpha = L->mix_beta = L->ffn_alpha = L->ffn_beta = 1.0f;
        L->sparse = c->num_experts > 0 && !c->mlp_only[i] && (i + 1) % c->decoder_sparse_step == 0;
        if (bind_layer_norms(b, c, i, true, L) ||
            (L->mixer == MIXER_GATED_DELTA ? bind_gated_delta(b, c, i, &L->delta)
                                           : bind_softmax_attention(b, c, i, &spec, &L->attn)) ||
            (L->sparse ? bind_sparse_moe(b, c, i, &L->moe) : bind_dense_mlp(b, c, i, &L->mlp)))
            return -1;
    }
    ignore_mtp(b, m);
    return 0;
}

/* Gated attention: the q rows of q_proj ([q_h | gate_h] per head), k_proj.
 * Gated DeltaNet: the q and k rows of in_proj_qkvz, per key head
 * [q (dk) | k (dk) | v (r·dv) | z (r·dv)]. */
static int qwen3_next_qk_parts(const struct model_config *c, int i, struct qk_parts *p, struct hr_error *e)
{
    (void)e;
    if (c->layer_kinds[i] == LAYER_LINEAR_ATTENTION) {
        const int64_t nk = c->linear_num_key_heads, dk = c->linear_key_head_dim,
                      r = c->linear_num_value_heads / (nk ? nk : 1), block = 2 * dk + 2 * r * c->linear_value_head_dim;
        qk_add(p, QK_QUERY, 0, dk, block, nk, "model.layers.%d.linear_attn.in_proj_qkvz.weight", i);
        qk_add(p, QK_KEY, dk, dk, block, nk, "model.layers.%d.linear_attn.in_proj_qkvz.weight", i);
        qk_add(p, QK_VALUE, 2 * dk, r * c->linear_value_head_dim, block, nk,
               "model.layers.%d.linear_attn.in_proj_qkvz.weight", i);
        qk_add_whole(p, QK_OUTPUT, "model.layers.%d.linear_attn.out_proj.weight", i);
        return 0;
    }
    const int64_t d = c->head_dim;
    qk_add(p, QK_QUERY, 0, d, 2 * d, c->num_heads, "model.layers.%d.self_attn.q_proj.weight", i);
    qk_add_whole(p, QK_KEY, "model.layers.%d.self_attn.k_proj.weight", i);
    qk_add_whole(p, QK_NORM, "model.layers.%d.self_attn.q_norm.weight", i);
    qk_add_whole(p, QK_NORM, "model.layers.%d.self_attn.k_norm.weight", i);
    qk_add_whole(p, QK_VALUE, "model.layers.%d.self_attn.v_proj.weight", i);
    qk_add_whole(p, QK_OUTPUT, "model.layers.%d.self_attn.o_proj.weight", i);
    return 0;
}

/* The Gated DeltaNet's sizes (linear_*), and the layer plan: layer_types, or
 * (before transformers wrote layer_types) every full_attention_interval-th
 * layer full. */
static int qwen3_next_read_config(struct model_config *c, struct hr_error *e)
{
    if (cfg_int(c, c->json, "linear_num_key_heads", 1, 0, &c->linear_num_key_heads, e) ||
        cfg_int(c, c->json, "linear_num_value_heads", 1, 0, &c->linear_num_value_heads, e) ||
        cfg_int(c, c->json, "linear_key_head_dim", 1, 0, &c->linear_key_head_dim, e) ||
        cfg_int(c, c->json, "linear_value_head_dim", 1, 0, &c->linear_value_head_dim, e) ||
        cfg_int(c, c->json, "linear_conv_kernel_dim", 1, 0, &c->linear_conv_kernel, e))
        return -1;
    const cJSON *types = cJSON_GetObjectItemCaseSensitive(c->json, "layer_types");
    int interval = 0;
    if ((types && !cJSON_IsNull(types)) || !cJSON_GetObjectItemCaseSensitive(c->json, "full_attention_interval"))
        return config_layer_plan(c, "layer_types", NULL, 0, 0, e);
    if (cfg_int(c, c->json, "full_attention_interval", 1, 1, &interval, e) || config_layer_kinds_alloc(c, e)) return -1;
    for (int i = 0; i < c->num_layers; i++)
        c->layer_kinds[i] = (i + 1) % interval == 0 ? LAYER_FULL_ATTENTION : LAYER_LINEAR_ATTENTION;
    return config_layer_window(c, 0, e);
}

const struct architecture arch_qwen3_next = {
    .model_type = "qwen3_next",
    .linear_mixer_module = "linear_attn",
    .hf_class = "Qwen3NextForCausalLM",
    .description = "Qwen3-Next: Gated DeltaNet + gated softmax attention, MoE with shared expert",
    .read_config = qwen3_next_read_config,
    .qk_parts = qwen3_next_qk_parts,
    .bind = qwen3_next_bind,
};
