/* A loaded model: its config, its layer plan, and read-only views of its
 * weights inside the mmap'd safetensors. Nothing here changes after load;
 * per-sequence state lives in struct session. */
#ifndef HYRECALL_MODEL_H
#define HYRECALL_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "error.h"
#include "ops.h"
#include "safetensors.h"

struct attention_weights {
    struct weight q, k, v, o;
    const float *q_bias, *k_bias, *v_bias; /* NULL without attention_bias */
    const float *q_norm, *k_norm;          /* per-head RMSNorm weights [head_dim], or NULL */
};

struct mlp_weights {
    struct weight gate, up, down; /* SwiGLU: down(silu(gate x) * up x) */
};

struct layer {
    enum layer_kind kind;
    int window; /* sliding window (0 for full attention) */
    const float *input_norm, *post_attention_norm;
    struct attention_weights attn;
    struct mlp_weights mlp;
};

struct architecture; /* see arch.h */

struct model {
    char *dir;
    struct model_config cfg;
    const struct architecture *arch;
    struct st_archive weights;
    const float *embed;    /* [vocab, hidden] */
    struct weight lm_head; /* [vocab, hidden]; the embedding itself when tied */
    const float *final_norm;
    struct layer *layers; /* [num_layers] */
    void **owned;         /* stb_ds array of converted copies to free */
    int64_t owned_bytes;
    int64_t num_params;
};

/* Loads DIR (config.json + safetensors). Every tensor the architecture needs
 * must be present with the shape the config implies, and no other tensor may
 * be present; the first violation is reported naming the file and tensor. */
int model_load(const char *dir, struct model *m, struct hr_error *e);
void model_free(struct model *m);

#endif
