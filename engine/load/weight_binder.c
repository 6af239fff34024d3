#include "engine/load/weight_binder.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/model.h"
#include "stb_ds.h"

/* Collect mode: records the tensor and hands out zeros (calloc: the pages
 * are not touched, so even a 2B-parameter plan costs no memory). */
static const float *collect(struct weight_binder *b, const char *name, int ndim, const int64_t *shape)
{
    struct wanted_tensor w = {strdup(name), ndim, {0}, false};
    int64_t numel = 1;
    for (int d = 0; d < ndim; d++) w.shape[d] = shape[d], numel *= shape[d];
    arrput(b->wanted, w);
    float *zeros = calloc((size_t)(numel ? numel : 1), sizeof(float));
    arrput(b->m->owned, zeros);
    b->m->num_params += numel;
    return zeros;
}

/* The tensor name from a bind call's printf format and arguments. */
#define FORMAT_NAME(name, fmt)                                                                                         \
    char name[256];                                                                                                    \
    do {                                                                                                               \
        va_list ap;                                                                                                    \
        va_start(ap, fmt);                                                                                             \
        vsnprintf(name, sizeof name, fmt, ap);                                                                         \
        va_end(ap);                                                                                                    \
    } while (0)

static const struct st_tensor *lookup(struct weight_binder *b, const char *name)
{
    const struct st_tensor *t = st_find(&b->m->weights, name);
    if (!t) {
        hr_fail(b->e, "%s: missing tensor '%s'", b->m->dir, name);
        return NULL;
    }
    if (t->dtype != DT_F32 && t->dtype != DT_BF16 && t->dtype != DT_F16) {
        hr_fail(b->e, "%s: tensor '%s' has dtype %s; supported: F32, BF16, F16", t->path, name, dtype_name(t->dtype));
        return NULL;
    }
    shput(b->used, name, 1);
    return t;
}

/* A float32 view of t: the mmap itself when possible, else a converted copy. */
static const float *as_f32(struct weight_binder *b, const struct st_tensor *t)
{
    ptrdiff_t patched = shgeti(b->m->patches, t->name);
    if (patched >= 0) return b->m->patches[patched].value;
    if (t->dtype == DT_F32 && ((uintptr_t)t->data % sizeof(float)) == 0) return t->data;
    float *copy = malloc((size_t)(t->numel ? t->numel : 1) * sizeof(float));
    if (!copy) {
        hr_fail(b->e, "%s: out of memory converting tensor '%s'", t->path, t->name);
        return NULL;
    }
    dtype_to_f32(t->dtype, t->data, copy, (size_t)t->numel);
    arrput(b->m->owned, copy);
    b->m->owned_bytes += t->numel * (int64_t)sizeof(float);
    return copy;
}

bool bf16_usable_in_place(const struct st_tensor *t)
{
    return t->dtype == DT_BF16 && (uintptr_t)t->data % sizeof(uint16_t) == 0;
}

/* A BF16 matrix is used straight from the mmap unless a restore patch
 * replaces it. */
static bool keeps_bf16(struct weight_binder *b, const struct st_tensor *t)
{
    return bf16_usable_in_place(t) && shgeti(b->m->patches, t->name) < 0;
}

static int shape_error(struct weight_binder *b, const struct st_tensor *t, const char *expected)
{
    char got[128] = "[";
    for (int d = 0; d < t->ndim; d++)
        snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", d ? ", " : "", (long long)t->shape[d]);
    strncat(got, "]", sizeof got - strlen(got) - 1);
    return hr_fail(b->e, "%s: tensor '%s' has shape %s but config.json implies %s", t->path, t->name, got, expected);
}

int bind_matrix(struct weight_binder *b, struct weight *out, int64_t rows, int64_t cols, const char *fmt, ...)
{
    FORMAT_NAME(name, fmt);
    if (b->collect) {
        const int64_t shape[2] = {rows, cols};
        out->rows = rows, out->cols = cols;
        out->f32 = collect(b, name, 2, shape);
        out->bf16 = NULL;
        return 0;
    }
    const struct st_tensor *t = lookup(b, name);
    if (!t) return -1;
    if (t->ndim != 2 || t->shape[0] != rows || t->shape[1] != cols) {
        char expected[64];
        snprintf(expected, sizeof expected, "[%lld, %lld]", (long long)rows, (long long)cols);
        return shape_error(b, t, expected);
    }
    out->rows = rows;
    out->cols = cols;
    b->m->num_params += t->numel;
    out->f32 = NULL;
    out->bf16 = NULL;
    if (keeps_bf16(b, t)) {
        out->bf16 = t->data;
        return 0;
    }
    out->f32 = as_f32(b, t);
    return out->f32 ? 0 : -1;
}

int bind_vector(struct weight_binder *b, const float **out, int64_t n, const char *fmt, ...)
{
    FORMAT_NAME(name, fmt);
    if (b->collect) {
        *out = collect(b, name, 1, &n);
        return 0;
    }
    const struct st_tensor *t = lookup(b, name);
    if (!t) return -1;
    if (t->ndim != 1 || t->shape[0] != n) {
        char expected[64];
        snprintf(expected, sizeof expected, "[%lld]", (long long)n);
        return shape_error(b, t, expected);
    }
    *out = as_f32(b, t);
    b->m->num_params += t->numel;
    return *out ? 0 : -1;
}

int bind_array(struct weight_binder *b, const float **out, int ndim, const int64_t *shape, const char *fmt, ...)
{
    FORMAT_NAME(name, fmt);
    if (b->collect) {
        *out = collect(b, name, ndim, shape);
        return 0;
    }
    const struct st_tensor *t = lookup(b, name);
    if (!t) return -1;
    bool same = t->ndim == ndim;
    for (int d = 0; same && d < ndim; d++) same = t->shape[d] == shape[d];
    if (!same) {
        char expected[128] = "[";
        for (int d = 0; d < ndim; d++)
            snprintf(expected + strlen(expected), sizeof expected - strlen(expected), "%s%lld", d ? ", " : "",
                     (long long)shape[d]);
        strncat(expected, "]", sizeof expected - strlen(expected) - 1);
        return shape_error(b, t, expected);
    }
    *out = as_f32(b, t);
    b->m->num_params += t->numel;
    return *out ? 0 : -1;
}

int bind_vector_plus_one(struct weight_binder *b, const float **out, int64_t n, const char *fmt, ...)
{
    FORMAT_NAME(name, fmt);
    const float *w;
    if (bind_vector(b, &w, n, "%s", name) != 0) return -1;
    if (b->collect) b->wanted[arrlen(b->wanted) - 1].norm_offset = true;
    float *copy = malloc((size_t)n * sizeof(float));
    if (!copy) return hr_fail(b->e, "%s: out of memory", b->m->dir);
    for (int64_t i = 0; i < n; i++) copy[i] = 1.0f + w[i];
    arrput(b->m->owned, copy);
    b->m->owned_bytes += n * (int64_t)sizeof(float);
    *out = copy;
    return 0;
}

void binder_ignore(struct weight_binder *b, const char *fmt, ...)
{
    FORMAT_NAME(name, fmt);
    if (!b->collect && st_find(&b->m->weights, name)) shput(b->used, name, 1);
}
