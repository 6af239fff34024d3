/* Qwen3 (transformers' modeling_qwen3.py): pre-norm decoder layers of
 * grouped-query softmax attention with per-head RMSNorm on q and k before
 * RoPE, and a SwiGLU MLP. Layers are full or sliding-window attention as
 * config.json's layer plan says. */
#include "engine/arch/qwen3.h"

#include <stdio.h>

#include "engine/arch/common.h"

static int qwen3_bind(struct weight_binder *b, struct model *m)
{
    const struct model_config *c = &m->cfg;
    if (bind_embeddings_and_head(b, m, false)) return -1;
    const struct attention_spec spec = {.qk_norm = true};
    for (int i = 0; i < c->num_layers; i++) {
        struct layer *L = &m->layers[i];
        L->kind = c->layer_kinds[i];
        if (L->kind == LAYER_LINEAR_ATTENTION)
            return hr_fail(b->e, "%s/config.json: field 'layer_types'[%d] is linear_attention, which qwen3 has not",
                           m->dir, i);
        L->mixer = MIXER_SOFTMAX_ATTENTION;
        L->window = L->kind == LAYER_SLIDING_ATTENTION ? c->sliding_window : 0;
        L->mix_alpha = L->mix_beta = L->ffn_alpha = L->ffn_beta = 1.0f;
        if (bind_layer_norms(b, c, i, false, L) || bind_softmax_attention(b, c, i, &spec, &L->attn) ||
            bind_dense_mlp(b, c, i, &L->mlp))
            return -1;
    }
    return 0;
}

/* Query and key: the whole q_proj and k_proj; biases and q/k norms beside them. */
static int qwen3_qk_parts(const struct model_config *c, int i, struct qk_parts *p, struct hr_error *e)
{
    (void)e;
    qk_add_whole(p, QK_QUERY, "model.layers.%d.self_attn.q_proj.weight", i);
    qk_add_whole(p, QK_KEY, "model.layers.%d.self_attn.k_proj.weight", i);
    qk_add_whole(p, QK_NORM, "model.layers.%d.self_attn.q_norm.weight", i);
    qk_add_whole(p, QK_NORM, "model.layers.%d.self_attn.k_norm.weight", i);
    qk_add_whole(p, QK_VALUE, "model.layers.%d.self_attn.v_proj.weight", i);
    qk_add_whole(p, QK_OUTPUT, "model.layers.%d.self_attn.o_proj.weight", i);
    if (c->attention_bias) {
        qk_add_whole(p, QK_QUERY_BIAS, "model.layers.%d.self_attn.q_proj.bias", i);
        qk_add_whole(p, QK_KEY_BIAS, "model.layers.%d.self_attn.k_proj.bias", i);
        qk_add_whole(p, QK_VALUE_BIAS, "model.layers.%d.self_attn.v_proj.bias", i);
    }
    return 0;
}

/* transformers' layer_types, or Qwen2's use_sliding_window rule. */
static int qwen3_read_config(struct model_config *c, struct hr_error *e)
{
    return config_layer_plan(c, "layer_types", NULL, 0, 0, e);
}

const struct architecture arch_qwen3 = {
    .model_type = "qwen3",
    .hf_class = "Qwen3ForCausalLM",
    .description = "Qwen3: GQA softmax attention (full or sliding window) with q/k RMSNorm, SwiGLU MLP",
    .read_config = qwen3_read_config,
    .qk_parts = qwen3_qk_parts,
    .bind = qwen3_bind,
};
