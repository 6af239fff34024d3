/* Binds named tensors of a checkpoint to model fields, checking each one's
 * presence, dtype and shape against what the config implies. Matrices stored
 * as BF16 stay in the mmap (struct weight's bf16 view); everything else is
 * converted to float32 only when the file holds another dtype (or misaligned
 * data, or a restore patch replaces it). It remembers which names were used,
 * so that unexpected tensors are reported. */
#ifndef HYRECALL_WEIGHT_BINDER_H
#define HYRECALL_WEIGHT_BINDER_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/base/error.h"
#include "engine/load/safetensors.h"
#include "engine/ops/ops.h"

struct model;

/* A tensor the architecture asked for, in collect mode. */
struct wanted_tensor {
    char *name;
    int ndim;
    int64_t shape[4];
    bool norm_offset; /* stored as w of a (1 + w) norm */
};

struct weight_binder {
    struct model *m;
    struct hr_error *e;
    struct {
        char *key;
        int value;
    } * used; /* stb_ds string set */
    /* Collect mode (hyrecall synth): no checkpoint is read; each bind records
     * the tensor it wants and gets zeros. */
    bool collect;
    struct wanted_tensor *wanted; /* stb_ds array */
};

/* Whether a BF16 tensor's data can be read in place by the matvec and block
 * kernels (matvec.h): 2-byte aligned (safetensors does not promise it). */
bool bf16_usable_in_place(const struct st_tensor *t);

/* name is a printf format (e.g. "model.layers.%d.mlp.up_proj.weight"). */
int bind_matrix(struct weight_binder *b, struct weight *out, int64_t rows, int64_t cols, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
int bind_vector(struct weight_binder *b, const float **out, int64_t n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A tensor of any rank with exactly the given shape, as a flat float array. */
int bind_array(struct weight_binder *b, const float **out, int ndim, const int64_t *shape, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* A norm weight stored as an offset from one (Qwen3-Next's (1 + w) RMSNorm):
 * binds a float32 copy holding 1 + w, so every RMSNorm multiplies by its
 * weight the same way. */
int bind_vector_plus_one(struct weight_binder *b, const float **out, int64_t n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Marks a tensor the architecture knows but does not read (e.g. buffers that
 * the config determines) as expected, if present. */
void binder_ignore(struct weight_binder *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
