/* The restore module: QK-Restore, its Procrustes variant and the ablation
 * parts, applied when a model loads (as tensor patches) or written out as a
 * new checkpoint.
 *
 * These are hyrecall's definitions. The paper ("Attention Amnesia in Hybrid
 * LLMs", 2026) is not readable here; they follow its abstract and a
 * third-party review that read its text (Ricardokevins.github.io,
 * notes/paper-reviews/attention-amnesia-qk-restore-hybrid-llms.html; README.md
 * has the method table):
 *   qk          in the fine-tuned model, replace W_Q and W_K of each restored
 *               layer by the base (pre-fine-tuning) checkpoint's; every other
 *               weight stays fine-tuned. For fused projections only the query
 *               and key rows are replaced. Other parts (--parts q,k,v,o) give
 *               the review's Q-, K- and V-Restore ablation rows.
 *   procrustes  (output side, the default; the review's "core constraint")
 *               minimise ‖W_Q^new − W_Q^tuned‖² + ‖W_K^new − W_K^tuned‖²
 *               subject to W_Q,h^newᵀ W_K,g^new = W_Q,h^baseᵀ W_K,g^base for
 *               every query head h of every KV group g: one orthogonal R_g on
 *               the head dimension per group, W_K,g^new = R_g W_K,g^base,
 *               W_Q,h^new = R_g W_Q,h^base, R_g the closed-form Procrustes
 *               solution (procrustes_left). On RoPE layers R_g is restricted
 *               to the rotations that commute with RoPE's, so that the
 *               attention logits q_tᵀ k_s of the base are kept at every pair
 *               of positions; position-free layers (HypeNet's) get a full R_g.
 *               With --restore-with biases the base's q/k biases are rotated
 *               too (b^new = R_g b^base), keeping the logits of biased models.
 *               q/k RMSNorm weights γ sit between the projection and the
 *               logits: the logits are kept exactly only where R_g commutes
 *               with diag(γ_q ⊙ γ_k) (e.g. equal weights within each block R_g
 *               mixes); W_Qᵀ W_K itself is always kept.
 *   procrustes, --procrustes-side input  (the reading of earlier hyrecall):
 *               per restored layer, stack B = [W_Q^base; W_K^base] and
 *               F = [W_Q^tuned; W_K^tuned] (rows), solve R* = argmin_{RᵀR=I}
 *               ‖B R − F‖_F (procrustes_rotation) and restore
 *               W = (1 − α) B + α B R*: the base routing geometry expressed in
 *               the fine-tuned residual basis. α = 0 is qk. It changes each
 *               head's routing form (R*ᵀ W_Qᵀ W_K R*).
 * Default layers: the full softmax-attention layers; default parts q,k.
 * Restored values are rounded to the fine-tuned tensor's dtype, so a written
 * checkpoint and load-time patching give the same bits. */
#ifndef HYRECALL_RESTORE_H
#define HYRECALL_RESTORE_H

#include <cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "engine/base/error.h"
#include "engine/model.h"

enum restore_method { RESTORE_QK, RESTORE_PROCRUSTES };
enum restore_scope {
    RESTORE_FULL,      /* full softmax-attention layers (default) */
    RESTORE_ATTENTION, /* full and sliding-window attention layers */
    RESTORE_LINEAR,    /* linear-attention layers' q/k projections */
    RESTORE_ALL,
    RESTORE_LIST, /* the layers listed */
};

enum restore_side { PROCRUSTES_OUTPUT, PROCRUSTES_INPUT };

/* The parts a restore takes from base (--parts). */
enum { RESTORE_Q = 1, RESTORE_K = 2, RESTORE_V = 4, RESTORE_O = 8 };

struct restore_options {
    const char *base_dir;
    enum restore_method method;
    enum restore_side side; /* procrustes only */
    unsigned parts;         /* RESTORE_Q | RESTORE_K by default */
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
/* "q,k" (the default), "v", "q,k,v,o", ... */
int restore_parse_parts(const char *text, struct restore_options *o, struct hr_error *e);
/* "output" (the default) | "input" */
int restore_parse_side(const char *text, struct restore_options *o, struct hr_error *e);
/* A --compare variant's restore, NAME=DIR+SPEC@BASE: "qk", "procrustes",
 * "procrustes-input", or parts as letters ("q", "k", "v", "o", "qkv", ...:
 * those parts copied from base). */
int restore_parse_spec(const char *text, struct restore_options *o, struct hr_error *e);
/* The method as --compare spells it ("qk", "v", "procrustes", ...), into buf. */
const char *restore_spec_name(const struct restore_options *o, char *buf, size_t n);
/* "q,k,v,o" of o->parts, into buf. */
const char *restore_parts_name(unsigned parts, char *buf, size_t n);

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

/* One model of an A/B comparison: NAME=DIR, optionally restored (DIR+SPEC@BASE,
 * SPEC qk, procrustes, procrustes-input or parts as letters: v, q, k, qkv, ...). */
struct variant {
    char name[32];
    char dir[1024];
    char base[1024];  /* restore from, or "" */
    char restore[24]; /* the restore after '+' (restore_parse_spec), or "" */
};

/* o with the variant's own restore applied (NAME=DIR+SPEC@BASE), if it has one. */
struct restore_options variant_restore_options(const struct variant *v, const struct restore_options *o);

/* The options as a JSON object (base, method, side, parts, layers, alpha,
 * with_biases, with_norms): the "restore" record of every output a restored
 * model writes, and hyrecall_restore.json's fields. NULL without a base. */
cJSON *restore_options_json(const struct restore_options *o);

#endif
