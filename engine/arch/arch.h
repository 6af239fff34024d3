/* An architecture is a table: its model_type, the Hugging Face class name,
 * and the function that binds its tensor names to the fields of struct model.
 * The forward pass is shared; adding a family means adding a table entry and
 * a bind function, not forking the session. */
#ifndef HYRECALL_ARCH_H
#define HYRECALL_ARCH_H

#include "engine/arch/qk_parts.h"
#include "engine/load/weight_binder.h"
#include "engine/model.h"

struct architecture {
    const char *model_type;
    const char *hf_class;
    const char *description;
    /* The module path of a linear layer's token mixer, under model.layers.N
     * ("linear_attn" for Qwen3-Next; the others keep theirs at "self_attn"). */
    const char *linear_mixer_module;
    /* The family's own config.json spellings, after the generic fields
     * (config.h): its layer plan and its mixers' fields, into cfg. */
    int (*read_config)(struct model_config *cfg, struct hr_error *e);
    /* Binds the tensors; reads the config, never changes it. */
    int (*bind)(struct weight_binder *b, struct model *m);
    /* The query/key projections of layer i (and their biases and norms), for
     * the restore module. Reads only the config. */
    int (*qk_parts)(const struct model_config *c, int layer, struct qk_parts *out, struct hr_error *e);
};

/* The entry for model_type, or NULL. */
const struct architecture *arch_find(const char *model_type);
/* Comma-separated list of supported model_type values, for error messages. */
const char *arch_supported_list(void);

/* config.json as its family reads it: the generic fields, then the
 * architecture's own (read_config), checked. generation_path may be NULL.
 * *arch is the architecture of model_type. */
int arch_config_read(const char *config_path, const char *generation_path, struct model_config *cfg,
                     const struct architecture **arch, struct hr_error *e);
/* The same for a model directory: DIR/config.json and DIR/generation_config.json. */
int arch_config_load(const char *dir, struct model_config *cfg, const struct architecture **arch, struct hr_error *e);

#endif
