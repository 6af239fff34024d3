#include "engine/arch/common.h"

#include <stdio.h>

int bind_softmax_attention(struct weight_binder *b, const struct model_config *c, int i,
                           const struct attention_spec *spec, struct attention_weights *a)
{
    const int64_t h = c->hidden_size, q_dim = (int64_t)c->num_heads * c->head_dim,
                  kv_dim = (int64_t)c->num_kv_heads * c->head_dim;
    a->output_gate = spec->output_gate;
    a->rope = !spec->no_rope;
#define ATTN(suffix) "model.layers.%d.self_attn." suffix
    if (bind_matrix(b, &a->q, spec->output_gate ? 2 * q_dim : q_dim, h, ATTN("q_proj.weight"), i) ||
        bind_matrix(b, &a->k, kv_dim, h, ATTN("k_proj.weight"), i) ||
        bind_matrix(b, &a->v, kv_dim, h, ATTN("v_proj.weight"), i) ||
        bind_matrix(b, &a->o, h, q_dim, ATTN("o_proj.weight"), i))
        return -1;
    if (spec->qk_norm) {
        int (*norm)(struct weight_binder *, const float **, int64_t, const char *, ...) =
            spec->norm_plus_one ? bind_vector_plus_one : bind_vector;
        if (norm(b, &a->q_norm, c->head_dim, ATTN("q_norm.weight"), i) ||
            norm(b, &a->k_norm, c->head_dim, ATTN("k_norm.weight"), i))
            return -1;
    }
    if (spec->separate_gate && bind_matrix(b, &a->o_gate, q_dim, h, ATTN("o_gate.weight"), i)) return -1;
    if ((c->attention_bias || spec->qkv_bias) &&
        (bind_vector(b, &a->q_bias, spec->output_gate ? 2 * q_dim : q_dim, ATTN("q_proj.bias"), i) ||
         bind_vector(b, &a->k_bias, kv_dim, ATTN("k_proj.bias"), i) ||
         bind_vector(b, &a->v_bias, kv_dim, ATTN("v_proj.bias"), i)))
        return -1;
#undef ATTN
    return 0;
}

int bind_swiglu(struct weight_binder *b, struct mlp_weights *w, int64_t hidden, int64_t inter, const char *prefix,
                const char *gate, const char *up, const char *down)
{
    return bind_matrix(b, &w->gate, inter, hidden, "%s.%s.weight", prefix, gate) ||
                   bind_matrix(b, &w->up, inter, hidden, "%s.%s.weight", prefix, up) ||
                   bind_matrix(b, &w->down, hidden, inter, "%s.%s.weight", prefix, down)
               ? -1
               : 0;
}

int bind_embeddings_and_head(struct weight_binder *b, struct model *m, bool norm_plus_one)
{
    const struct model_config *c = &m->cfg;
    if (bind_matrix(b, &m->embed, c->vocab_size, c->hidden_size, "model.embed_tokens.weight")) return -1;
    if (c->tie_word_embeddings)
        m->lm_head = m->embed;
    else if (bind_matrix(b, &m->lm_head, c->vocab_size, c->hidden_size, "lm_head.weight"))
        return -1;
    return norm_plus_one ? bind_vector_plus_one(b, &m->final_norm, c->hidden_size, "model.norm.weight")
                         : bind_vector(b, &m->final_norm, c->hidden_size, "model.norm.weight");
}

int bind_layer_norms(struct weight_binder *b, const struct model_config *c, int i, bool plus_one, struct layer *L)
{
    int (*norm)(struct weight_binder *, const float **, int64_t, const char *, ...) =
        plus_one ? bind_vector_plus_one : bind_vector;
    return norm(b, &L->input_norm, c->hidden_size, "model.layers.%d.input_layernorm.weight", i) ||
                   norm(b, &L->post_attention_norm, c->hidden_size, "model.layers.%d.post_attention_layernorm.weight",
                        i)
               ? -1
               : 0;
}

int bind_dense_mlp(struct weight_binder *b, const struct model_config *c, int i, struct mlp_weights *w)
{
    char prefix[64];
    snprintf(prefix, sizeof prefix, "model.layers.%d.mlp", i);
    return bind_swiglu(b, w, c->hidden_size, c->intermediate_size, prefix, "gate_proj", "up_proj", "down_proj");
}
