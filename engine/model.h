/* A loaded model: its config, its layer plan, and read-only views of its
 * weights inside the mmap'd safetensors. Nothing here changes after load;
 * per-sequence state lives in struct session. */
#ifndef HYRECALL_MODEL_H
#define HYRECALL_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/base/error.h"
#include "engine/load/config.h"
#include "engine/load/safetensors.h"
#include "engine/ops/hype.h"
#include "engine/ops/ops.h"

/* Which sequence mixer a layer runs. */
enum mixer_kind {
    MIXER_SOFTMAX_ATTENTION, /* attention.h: full or sliding window */
    MIXER_LIGHTNING,         /* lightning.h: decay-gated linear attention (MiniMax) */
    MIXER_GATED_DELTA,       /* gated_delta.h: Gated DeltaNet (Qwen3-Next) */
    MIXER_JET,               /* gated delta rule with a dynamic convolution on v (Jet-Nemotron's JetBlock) */
};

const char *mixer_kind_name(enum mixer_kind k);

struct attention_weights {
    struct weight q, k, v, o;
    const float *q_bias, *k_bias, *v_bias; /* NULL without attention_bias */
    const float *q_norm, *k_norm;          /* per-head RMSNorm weights [head_dim], or NULL */
    bool rope;                             /* false for HypeNet's position-free (HyPE) softmax layers */
    struct query_scaling q_scaling;        /* HypeNet's attn_logits_scaling (hype.h); none elsewhere */
    bool output_gate;     /* Qwen3-Next: q_proj rows are [q_h | gate_h] per head; o ⊙= sigmoid(gate) */
    struct weight o_gate; /* HypeNet: o ⊙= sigmoid(x o_gateᵀ); absent (weight_present false) elsewhere */
};

/* Lightning attention. MiniMax fuses the projections (qkv rows [q_h | k_h | v_h]
 * per head, SiLU on all); HypeNet has separate q/k/v, per-head q/k RMSNorm,
 * RoPE and a 1/√d scale on q, and may share k/v heads. */
struct lightning_weights {
    int heads, kv_heads, head_dim;
    struct weight qkv;     /* MiniMax; absent for HypeNet */
    struct weight q, k, v; /* HypeNet */
    const float *q_norm, *k_norm;
    bool rope;
    float q_scale;
    struct weight gate, out;
    const float *norm; /* RMSNorm over all heads' outputs [heads * head_dim] */
    float norm_eps;
    float *log_decay; /* [heads]: −slope_h (owned by the model) */
};

/* Jet-Nemotron JetBlock: q = silu(Wq x), k = silu(Wk x) [heads, dk];
 * v = silu(dynamic_conv(Wv x)) [heads, dv] with a kernel generated per token
 * from x: kern = W2 silu(W1 x) + b2; then the gated delta rule and a gated
 * RMSNorm with its own g_proj. */
struct jet_weights {
    int heads, dk, dv, conv_size, gen_hidden;
    float norm_eps;
    struct weight q, k, v, g, b, a, o;
    struct weight gen1, gen2;     /* [gen_hidden, hidden], [heads·dv·conv, gen_hidden] */
    const float *gen2_bias;       /* [heads·dv·conv] */
    const float *A_log, *dt_bias; /* [heads] */
    const float *o_norm;          /* [dv] */
};

/* Qwen3-Next Gated DeltaNet. */
struct gated_delta_weights {
    struct weight qkvz, ba, out;
    const float *conv;            /* depthwise causal conv [channels, kernel] */
    const float *A_log, *dt_bias; /* [value_heads] */
    const float *norm;            /* gated RMSNorm weight [value_head_dim] */
};

struct mlp_weights {
    struct weight gate, up, down; /* SwiGLU: down(silu(gate x) * up x) */
};

struct moe_weights {
    struct weight router;        /* [experts, hidden] */
    struct mlp_weights *experts; /* [experts] (owned array of views) */
    int num_experts, top_k;
    bool norm_topk_prob;
    bool has_shared;
    struct mlp_weights shared; /* Qwen-MoE shared expert */
    const float *shared_gate;  /* [hidden]: sigmoid(shared_gate · x) scales it */
};

struct layer {
    enum layer_kind kind;
    enum mixer_kind mixer;
    int window; /* sliding window (0 otherwise) */
    const float *input_norm, *post_attention_norm;
    struct attention_weights attn;
    struct lightning_weights lightning;
    struct gated_delta_weights delta;
    struct jet_weights jet;
    bool sparse; /* MoE feed-forward instead of the dense MLP */
    struct mlp_weights mlp;
    struct moe_weights moe;
    /* Residuals: x ← α·r + β·f(norm(x)), r = x (pre-norm, α = β = 1) or, for
     * MiniMax, r = norm(x) with its configured factors. */
    bool residual_from_norm;
    float mix_alpha, mix_beta, ffn_alpha, ffn_beta;
};

struct architecture; /* see arch.h */

/* Tensors replaced at load time (the restore module): tensor name -> its
 * whole contents in float32, in the tensor's shape. stb_ds string map. */
struct tensor_patch {
    char *key;
    float *value;
};

struct model {
    char *dir;
    struct model_config cfg;
    const struct architecture *arch;
    struct st_archive weights;
    struct weight embed;   /* [vocab, hidden] */
    struct weight lm_head; /* [vocab, hidden]; the embedding itself when tied */
    const float *final_norm;
    struct layer *layers;         /* [num_layers] */
    void **owned;                 /* stb_ds array of converted copies to free */
    struct tensor_patch *patches; /* owned; NULL when nothing is patched */
    int64_t owned_bytes;
    int64_t num_params;
};

/* Loads DIR (config.json + safetensors). Every tensor the architecture needs
 * must be present with the shape the config implies, and no other tensor may
 * be present; the first violation is reported naming the file and tensor. */
int model_load(const char *dir, struct model *m, struct hr_error *e);
/* The same, with some tensors' contents replaced by patches (which the model
 * takes ownership of, also on failure). Patched names must exist in DIR. */
int model_load_patched(const char *dir, struct tensor_patch *patches, struct model *m, struct hr_error *e);
void tensor_patches_free(struct tensor_patch *patches);

struct wanted_tensor; /* weight_binder.h */
/* The model a config describes, without weights: every tensor the
 * architecture would bind, with its shape (*wanted, stb_ds array, caller
 * frees with wanted_tensors_free). The model holds zeros; m->num_params is
 * the parameter count. CONFIG is a config.json file. */
int model_plan(const char *config_path, struct model *m, struct wanted_tensor **wanted, struct hr_error *e);
void wanted_tensors_free(struct wanted_tensor *wanted);
void model_free(struct model *m);

/* A run to `context` tokens goes past the context the model was trained for
 * (config.json's max_position_embeddings): the warning to print, naming the
 * field and its value, or NULL. The text is static (one per process). */
const char *model_context_warning(const struct model *m, int64_t context);

#endif
