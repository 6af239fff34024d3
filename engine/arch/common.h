/* Binding helpers shared by the architecture tables: the pieces that are
 * spelled the same way across Qwen-family and Mixtral-family checkpoints. */
#ifndef HYRECALL_ARCH_COMMON_H
#define HYRECALL_ARCH_COMMON_H

#include "engine/load/weight_binder.h"
#include "engine/model.h"

struct attention_spec {
    bool qk_norm;       /* per-head q_norm / k_norm */
    bool norm_plus_one; /* those norms stored as w with RMSNorm(x)·(1 + w) */
    bool output_gate;   /* q_proj yields [q_h | gate_h] per head */
    bool separate_gate; /* an o_gate projection (HypeNet) */
    bool qkv_bias;      /* q/k/v biases whatever attention_bias says (Qwen2-style layers) */
    bool no_rope;       /* position-free softmax attention (HypeNet's HyPE) */
};

/* model.layers.I.self_attn.{q,k,v,o}_proj (+ biases, + norms). */
int bind_softmax_attention(struct weight_binder *b, const struct model_config *c, int i,
                           const struct attention_spec *spec, struct attention_weights *a);

/* PREFIX.{gate,up,down}_proj.weight (or the names given) of a SwiGLU MLP
 * [inter, hidden] / [hidden, inter]. prefix is a complete tensor-name prefix. */
int bind_swiglu(struct weight_binder *b, struct mlp_weights *w, int64_t hidden, int64_t inter, const char *prefix,
                const char *gate, const char *up, const char *down);

/* model.layers.I.input_layernorm and post_attention_layernorm (stored as w,
 * or as the w of a (1 + w) norm when plus_one). */
int bind_layer_norms(struct weight_binder *b, const struct model_config *c, int i, bool plus_one, struct layer *L);

/* model.layers.I.mlp.{gate,up,down}_proj of width intermediate_size. */
int bind_dense_mlp(struct weight_binder *b, const struct model_config *c, int i, struct mlp_weights *w);

/* model.embed_tokens, lm_head (or tied), model.norm. */
int bind_embeddings_and_head(struct weight_binder *b, struct model *m, bool norm_plus_one);

#endif
