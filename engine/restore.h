/* The restore module: QK-Restore and its Procrustes variant, applied when a
 * model loads (as tensor patches) or written out as a new checkpoint.
 *
 * These are hyrecall's definitions, our reading of the paper's abstract
 * ("Attention Amnesia in Hybrid LLMs", 2026), whose full text and code we
 * could not read (see README.md):
 *   qk          in the fine-tuned model, replace W_Q and W_K of each restored
 *               layer by the base (pre-fine-tuning) checkpoint's; every other
 *               weight stays fine-tuned. For fused projections only the query
 *               and key rows are replaced.
 *   procrustes  per restored layer, stack B = [W_Q^base; W_K^base] and
 *               F = [W_Q^tuned; W_K^tuned] (rows), solve the orthogonal
 *               Procrustes problem R* = argmin_{RᵀR=I} ‖B R − F‖_F (procrustes.h)
 *               and restore W = (1 − α) B + α B R*: the base routing geometry,
 *               expressed in the fine-tuned residual basis. α = 0 is qk.
 * Default layers: the full softmax-attention layers. Restored values are
 * rounded to the fine-tuned tensor's dtype, so a written checkpoint and
 * load-time patching give the same bits. */
#ifndef HYRECALL_RESTORE_H
#define HYRECALL_RESTORE_H

#include <stdbool.h>

#include "error.h"
#include "model.h"

enum restore_method { RESTORE_QK, RESTORE_PROCRUSTES };
enum restore_scope {
    RESTORE_FULL,      /* full softmax-attention layers (default) */
    RESTORE_ATTENTION, /* full and sliding-window attention layers */
    RESTORE_LINEAR,    /* linear-attention layers' q/k projections */
    RESTORE_ALL,
    RESTORE_LIST,      /* the layers listed */
};

struct restore_options {
    const char *base_dir;
    enum restore_method method;
    enum restore_scope scope;
    int layers[256]; /* RESTORE_LIST */
    int num_layers;
    double alpha; /* procrustes blend, default 1 */
    bool with_biases, with_norms;
};

void restore_options_default(struct restore_options *o);
/* "qk" | "procrustes" */
int restore_parse_method(const char *text, struct restore_options *o, struct hr_error *e);
/* "full" | "attention" | "linear" | "all" | "0,3,7" */
int restore_parse_layers(const char *text, struct restore_options *o, struct hr_error *e);
/* "biases", "norms" or "biases,norms" */
int restore_parse_with(const char *text, struct restore_options *o, struct hr_error *e);

/* Checks that BASE and TUNED are the same architecture with the same tensor
 * set and shapes, then computes the patched tensors of TUNED. *summary gets a
 * one-line description (method, layers), malloc'd. */
int restore_compute(const char *tuned_dir, const struct restore_options *o, struct tensor_patch **patches,
                    char **summary, struct hr_error *e);

/* Loads TUNED with the restore applied. */
int restore_load_model(const char *tuned_dir, const struct restore_options *o, struct model *m, struct hr_error *e);

/* Writes a complete model directory OUT (config and tokenizer files copied,
 * one model.safetensors with every tensor, the patched ones in the tuned
 * dtype, metadata naming base, tuned, method and layers): into a temporary
 * directory, renamed at the end. Refuses an existing OUT; never writes to
 * TUNED or BASE. */
int restore_write_checkpoint(const char *tuned_dir, const struct restore_options *o, const char *out_dir,
                             struct hr_error *e);

#endif
