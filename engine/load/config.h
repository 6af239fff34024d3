/* config.json of a Hugging Face model directory, parsed into plain numbers.
 * Both spellings of RoPE settings are accepted: the classic top-level
 * `rope_theta` / `rope_scaling` and transformers 5's `rope_parameters`. */
#ifndef HYRECALL_CONFIG_H
#define HYRECALL_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include <cJSON.h>

#include "engine/base/error.h"

enum layer_kind {
    LAYER_FULL_ATTENTION,    /* softmax attention over the whole prefix */
    LAYER_SLIDING_ATTENTION, /* softmax attention over the last `sliding_window` positions */
    LAYER_LINEAR_ATTENTION,  /* a recurrent mixer; which one is the architecture's choice */
};

const char *layer_kind_name(enum layer_kind k);

enum rope_type { ROPE_DEFAULT, ROPE_LINEAR };

struct model_config {
    char model_type[64];
    int vocab_size;
    int hidden_size;
    int intermediate_size;
    int num_layers;
    int num_heads;
    int num_kv_heads;
    int head_dim;
    double rms_norm_eps;
    double rope_theta;
    enum rope_type rope_type;
    double rope_factor;              /* linear scaling: positions are divided by it */
    int rotary_dim;                  /* head_dim * partial_rotary_factor */
    int sliding_window;              /* 0 when no layer slides */
    int64_t max_position_embeddings; /* the context the model was trained for; 0 when the config does not say */
    bool attention_bias;
    bool tie_word_embeddings;
    enum layer_kind *layer_kinds; /* [num_layers], malloc'd */

    /* Linear-attention layers (0 when the config has none of these fields). */
    int linear_num_key_heads, linear_num_value_heads;
    int linear_key_head_dim, linear_value_head_dim;
    int linear_conv_kernel;

    /* Mixture of experts: num_experts 0 means a dense MLP in every layer.
     * A layer i is sparse iff !mlp_only[i] and (i + 1) % decoder_sparse_step == 0. */
    int num_experts, experts_per_token, moe_intermediate_size;
    int shared_expert_intermediate_size; /* 0: no shared expert */
    int decoder_sparse_step;
    bool norm_topk_prob;
    bool *mlp_only; /* [num_layers], malloc'd */

    /* MiniMax's residual scaling: x' = alpha · norm(x) + beta · f(norm(x)). */
    double linear_attn_alpha, linear_attn_beta, full_attn_alpha, full_attn_beta, mlp_alpha, mlp_beta;

    /* The parsed config.json, kept so that an architecture can read its own
     * fields with the typed getters below; and its path, for messages. */
    cJSON *json;
    char path[4096];
    int eos_ids[8];
    int num_eos;
};

/* Parses a config.json (and eos ids from generation_path, when that file
 * exists; NULL for none): the fields every family spells alike (sizes, RoPE,
 * eos, transformers' MoE fields). Every required field is checked for
 * presence, type and range. The layer plan and the family's own fields are
 * the architecture's to read (arch_config_read, engine/arch/arch.h). */
int config_read(const char *config_path, const char *generation_path, struct model_config *cfg, struct hr_error *e);
void config_free(struct model_config *cfg);
/* The same checks on config.json text in memory (label names it in messages). */
int config_parse_text(const char *label, const char *text, size_t len, struct model_config *cfg, struct hr_error *e);
/* What must hold once the architecture has read its fields. */
int config_check(const struct model_config *cfg, struct hr_error *e);

/* Layer plans, for the arch files. A family's names for its layer kinds
 * (Jet-Nemotron's "jet", HypeNet's "lightning-attn", ...), accepted beside
 * transformers' full_attention, sliding_attention, linear_attention. */
struct layer_kind_spelling {
    const char *name;
    enum layer_kind kind;
};
/* cfg->layer_kinds from the array field (layer_types, mixer_types) when the
 * config has it, else Qwen2/Qwen3's use_sliding_window / max_window_layers
 * rule; then the window (config_layer_window). */
int config_layer_plan(struct model_config *cfg, const char *field, const struct layer_kind_spelling *aliases,
                      int num_aliases, int fallback_window, struct hr_error *e);
/* A zeroed cfg->layer_kinds, for a family that fills it from its own field. */
int config_layer_kinds_alloc(struct model_config *cfg, struct hr_error *e);
/* cfg->sliding_window from 'sliding_window' (else fallback_window) when any
 * layer slides; an error when none is given. */
int config_layer_window(struct model_config *cfg, int fallback_window, struct hr_error *e);

/* Typed getters for an architecture's own fields in obj (cfg->json or an
 * object inside it): absent or null gives the fallback; a wrong type or range
 * is an error naming cfg->path and the field. cfg_number also accepts a
 * number written as a string ("1e-5"), as some published configs do. */
int cfg_int(const struct model_config *cfg, const cJSON *obj, const char *field, int min, int fallback, int *out,
            struct hr_error *e);
int cfg_number(const struct model_config *cfg, const cJSON *obj, const char *field, double fallback, double *out,
               struct hr_error *e);
int cfg_bool(const struct model_config *cfg, const cJSON *obj, const char *field, bool fallback, bool *out,
             struct hr_error *e);

#endif
