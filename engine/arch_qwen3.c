/* Qwen3 (transformers' modeling_qwen3.py): pre-norm decoder layers of
 * grouped-query softmax attention with per-head RMSNorm on q and k before
 * RoPE, and a SwiGLU MLP. Layers are full or sliding-window attention as
 * config.json's layer plan says. */
#include "arch_qwen3.h"

#include "weight_binder.h"

static int bind_attention(struct weight_binder *b, const struct model_config *c, int i, struct attention_weights *a)
{
    const int64_t h = c->hidden_size, q_dim = (int64_t)c->num_heads * c->head_dim,
                  kv_dim = (int64_t)c->num_kv_heads * c->head_dim;
#define ATTN(suffix) "model.layers.%d.self_attn." suffix
    if (bind_matrix(b, &a->q, q_dim, h, ATTN("q_proj.weight"), i) ||
        bind_matrix(b, &a->k, kv_dim, h, ATTN("k_proj.weight"), i) ||
        bind_matrix(b, &a->v, kv_dim, h, ATTN("v_proj.weight"), i) ||
        bind_matrix(b, &a->o, h, q_dim, ATTN("o_proj.weight"), i) ||
        bind_vector(b, &a->q_norm, c->head_dim, ATTN("q_norm.weight"), i) ||
        bind_vector(b, &a->k_norm, c->head_dim, ATTN("k_norm.weight"), i))
        return -1;
    if (c->attention_bias &&
        (bind_vector(b, &a->q_bias, q_dim, ATTN("q_proj.bias"), i) ||
         bind_vector(b, &a->k_bias, kv_dim, ATTN("k_proj.bias"), i) ||
         bind_vector(b, &a->v_bias, kv_dim, ATTN("v_proj.bias"), i)))
        return -1;
#undef ATTN
    return 0;
}

static int bind_mlp(struct weight_binder *b, const struct model_config *c, int i, struct mlp_weights *w)
{
    const int64_t h = c->hidden_size, f = c->intermediate_size;
    return bind_matrix(b, &w->gate, f, h, "model.layers.%d.mlp.gate_proj.weight", i) ||
                   bind_matrix(b, &w->up, f, h, "model.layers.%d.mlp.up_proj.weight", i) ||
                   bind_matrix(b, &w->down, h, f, "model.layers.%d.mlp.down_proj.weight", i)
               ? -1
               : 0;
}

static int qwen3_bind(struct weight_binder *b, struct model *m)
{
    const struct model_config *c = &m->cfg;
    struct weight embed;
    if (bind_matrix(b, &embed, c->vocab_size, c->hidden_size, "model.embed_tokens.weight")) return -1;
    m->embed = embed.w;
    if (c->tie_word_embeddings)
        m->lm_head = embed;
    else if (bind_matrix(b, &m->lm_head, c->vocab_size, c->hidden_size, "lm_head.weight"))
        return -1;
    if (bind_vector(b, &m->final_norm, c->hidden_size, "model.norm.weight")) return -1;

    for (int i = 0; i < c->num_layers; i++) {
        struct layer *L = &m->layers[i];
        L->kind = c->layer_kinds[i];
        L->window = L->kind == LAYER_SLIDING_ATTENTION ? c->sliding_window : 0;
        if (bind_vector(b, &L->input_norm, c->hidden_size, "model.layers.%d.input_layernorm.weight", i) ||
            bind_vector(b, &L->post_attention_norm, c->hidden_size,
                        "model.layers.%d.post_attention_layernorm.weight", i) ||
            bind_attention(b, c, i, &L->attn) || bind_mlp(b, c, i, &L->mlp))
            return -1;
    }
    return 0;
}

const struct architecture arch_qwen3 = {
    .model_type = "qwen3",
    .hf_class = "Qwen3ForCausalLM",
    .description = "Qwen3: GQA softmax attention (full or sliding window) with q/k RMSNorm, SwiGLU MLP",
    .bind = qwen3_bind,
};
