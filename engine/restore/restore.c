#include "engine/restore/restore.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/arch/arch.h"
#include "engine/base/files.h"
#include "engine/load/weight_binder.h"
#include "engine/restore/procrustes.h"
#include "stb_ds.h"

void restore_options_default(struct restore_options *o)
{
    memset(o, 0, sizeof *o);
    o->method = RESTORE_QK;
    o->side = PROCRUSTES_OUTPUT;
    o->parts = RESTORE_Q | RESTORE_K;
    o->scope = RESTORE_FULL;
    o->alpha = 1.0;
}

static const struct {
    char letter;
    const char *name;
    unsigned bit;
} part_names[] = {{'q', "q", RESTORE_Q}, {'k', "k", RESTORE_K}, {'v', "v", RESTORE_V}, {'o', "o", RESTORE_O}};

int restore_parse_parts(const char *text, struct restore_options *o, struct hr_error *e)
{
    unsigned parts = 0;
    char buf[64];
    snprintf(buf, sizeof buf, "%s", text);
    for (char *tok = strtok(buf, ", "); tok; tok = strtok(NULL, ", ")) {
        unsigned bit = 0;
        for (size_t i = 0; i < sizeof part_names / sizeof *part_names; i++)
            if (strcmp(tok, part_names[i].name) == 0) bit = part_names[i].bit;
        if (!bit || (parts & bit))
            return hr_fail(e, "restore parts '%s': expected a list of q, k, v, o, each once", text);
        parts |= bit;
    }
    if (!parts) return hr_fail(e, "restore parts '%s': expected a list of q, k, v, o", text);
    o->parts = parts;
    return 0;
}

int restore_parse_side(const char *text, struct restore_options *o, struct hr_error *e)
{
    if (strcmp(text, "output") == 0)
        o->side = PROCRUSTES_OUTPUT;
    else if (strcmp(text, "input") == 0)
        o->side = PROCRUSTES_INPUT;
    else
        return hr_fail(e, "procrustes side '%s': expected output or input", text);
    return 0;
}

int restore_parse_spec(const char *text, struct restore_options *o, struct hr_error *e)
{
    if (strcmp(text, "procrustes") == 0 || strcmp(text, "procrustes-input") == 0) {
        o->method = RESTORE_PROCRUSTES;
        o->side = text[10] ? PROCRUSTES_INPUT : PROCRUSTES_OUTPUT;
        o->parts = RESTORE_Q | RESTORE_K;
        return 0;
    }
    unsigned parts = 0;
    for (const char *c = text; *c; c++) {
        unsigned bit = 0;
        for (size_t i = 0; i < sizeof part_names / sizeof *part_names; i++)
            if (*c == part_names[i].letter) bit = part_names[i].bit;
        if (!bit || (parts & bit)) {
            parts = 0;
            break;
        }
        parts |= bit;
    }
    if (!parts)
        return hr_fail(e,
                       "restore '%s': expected qk, procrustes, procrustes-input or parts as letters (q, k, v, o, "
                       "e.g. v or qkv)",
                       text);
    o->method = RESTORE_QK;
    o->parts = parts;
    return 0;
}

const char *restore_parts_name(unsigned parts, char *buf, size_t n)
{
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof part_names / sizeof *part_names; i++)
        if (parts & part_names[i].bit)
            snprintf(buf + strlen(buf), n - strlen(buf), "%s%s", buf[0] ? "," : "", part_names[i].name);
    return buf;
}

const char *restore_spec_name(const struct restore_options *o, char *buf, size_t n)
{
    if (o->method == RESTORE_PROCRUSTES) {
        snprintf(buf, n, o->side == PROCRUSTES_INPUT ? "procrustes-input" : "procrustes");
        return buf;
    }
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof part_names / sizeof *part_names; i++)
        if (o->parts & part_names[i].bit) snprintf(buf + strlen(buf), n - strlen(buf), "%c", part_names[i].letter);
    return buf;
}

int restore_parse_method(const char *text, struct restore_options *o, struct hr_error *e)
{
    if (strcmp(text, "qk") == 0)
        o->method = RESTORE_QK;
    else if (strcmp(text, "procrustes") == 0)
        o->method = RESTORE_PROCRUSTES;
    else
        return hr_fail(e, "restore method '%s': expected qk or procrustes", text);
    return 0;
}

int restore_parse_layers(const char *text, struct restore_options *o, struct hr_error *e)
{
    static const struct {
        const char *name;
        enum restore_scope scope;
    } names[] = {
        {"full", RESTORE_FULL}, {"attention", RESTORE_ATTENTION}, {"linear", RESTORE_LINEAR}, {"all", RESTORE_ALL}};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strcmp(text, names[i].name) == 0) {
            o->scope = names[i].scope;
            return 0;
        }
    o->scope = RESTORE_LIST;
    o->num_layers = 0;
    for (const char *p = text; *p;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 0 || v > 100000 || (*end && *end != ',') || o->num_layers >= 256)
            return hr_fail(e, "restore layers '%s': expected full, attention, linear, all or a list like 0,3,7", text);
        o->layers[o->num_layers++] = (int)v;
        p = *end ? end + 1 : end;
    }
    if (!o->num_layers) return hr_fail(e, "restore layers: empty list");
    return 0;
}

int restore_parse_with(const char *text, struct restore_options *o, struct hr_error *e)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%s", text);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (strcmp(tok, "biases") == 0)
            o->with_biases = true;
        else if (strcmp(tok, "norms") == 0)
            o->with_norms = true;
        else
            return hr_fail(e, "restore-with '%s': expected biases, norms or biases,norms", text);
    }
    return 0;
}

static bool layer_selected(const struct restore_options *o, const struct model_config *c, int i)
{
    switch (o->scope) {
    case RESTORE_FULL: return c->layer_kinds[i] == LAYER_FULL_ATTENTION;
    case RESTORE_ATTENTION: return c->layer_kinds[i] != LAYER_LINEAR_ATTENTION;
    case RESTORE_LINEAR: return c->layer_kinds[i] == LAYER_LINEAR_ATTENTION;
    case RESTORE_ALL: return true;
    case RESTORE_LIST:
        for (int k = 0; k < o->num_layers; k++)
            if (o->layers[k] == i) return true;
        return false;
    }
    return false;
}

/* Same architecture, same layer plan, same tensor names and shapes. */
static int check_compatible(const char *tuned_dir, const char *base_dir, const struct model_config *tc,
                            const struct model_config *bc, const struct st_archive *ta, const struct st_archive *ba,
                            struct hr_error *e)
{
    if (strcmp(tc->model_type, bc->model_type) != 0)
        return hr_fail(e, "%s/config.json: model_type '%s' differs from %s's '%s'", base_dir, bc->model_type, tuned_dir,
                       tc->model_type);
    if (tc->num_layers != bc->num_layers)
        return hr_fail(e, "%s/config.json: num_hidden_layers %d differs from %s's %d", base_dir, bc->num_layers,
                       tuned_dir, tc->num_layers);
    for (int i = 0; i < tc->num_layers; i++)
        if (tc->layer_kinds[i] != bc->layer_kinds[i])
            return hr_fail(e, "%s/config.json: layer %d is %s, but %s in %s", base_dir, i,
                           layer_kind_name(bc->layer_kinds[i]), layer_kind_name(tc->layer_kinds[i]), tuned_dir);
    for (ptrdiff_t fi = 0; fi < arrlen(ta->files); fi++)
        for (ptrdiff_t ti = 0; ti < arrlen(ta->files[fi].tensors); ti++) {
            const struct st_tensor *t = &ta->files[fi].tensors[ti], *b = st_find(ba, t->name);
            if (!b) return hr_fail(e, "%s: tensor '%s' of %s is missing", base_dir, t->name, tuned_dir);
            bool same = b->ndim == t->ndim;
            for (int d = 0; same && d < t->ndim; d++) same = b->shape[d] == t->shape[d];
            if (!same) return hr_fail(e, "%s: tensor '%s' has another shape than in %s", b->path, t->name, tuned_dir);
        }
    if (st_tensor_count(ba) != st_tensor_count(ta))
        return hr_fail(e, "%s: holds %zu tensors, %s holds %zu", base_dir, st_tensor_count(ba), tuned_dir,
                       st_tensor_count(ta));
    return 0;
}

static float round_to(enum dtype t, float x)
{
    if (t == DT_BF16) return bf16_to_f32(f32_to_bf16(x));
    if (t == DT_F16) return f16_to_f32(f32_to_f16(x));
    return x;
}

/* The patch buffer of a tuned tensor: its float32 contents, created on first use. */
static float *patch_for(struct tensor_patch **patches, const struct st_tensor *t)
{
    ptrdiff_t i = shgeti(*patches, t->name);
    if (i >= 0) return (*patches)[i].value;
    float *p = malloc((size_t)(t->numel ? t->numel : 1) * sizeof(float));
    if (!p) return NULL;
    dtype_to_f32(t->dtype, t->data, p, (size_t)t->numel);
    shput(*patches, t->name, p);
    return p;
}

/* Row indices of a part within a tensor of `rows` rows (or elements). */
static int part_rows(const struct qk_part *p, int64_t rows, int64_t **out, struct hr_error *e, const char *path)
{
    *out = NULL;
    if (p->count == 0) {
        for (int64_t r = 0; r < rows; r++) arrput(*out, r);
        return 0;
    }
    for (int64_t r = 0; r < p->repeats; r++)
        for (int64_t i = 0; i < p->count; i++) {
            int64_t row = p->first + r * p->period + i;
            if (row >= rows) {
                arrfree(*out);
                return hr_fail(e, "%s: tensor '%s' has %lld rows, fewer than its query/key layout needs", path, p->name,
                               (long long)rows);
            }
            arrput(*out, row);
        }
    return 0;
}

struct qk_block {
    const struct st_tensor *tuned, *base;
    float *patch;
    int64_t *rows; /* stb_ds */
    int64_t cols;
};

/* Reads row r of a tensor (any float dtype) as doubles. */
static void read_row(const struct st_tensor *t, int64_t r, int64_t cols, double *out)
{
    float *tmp = malloc((size_t)cols * sizeof(float));
    dtype_to_f32(t->dtype, (const char *)t->data + (size_t)(r * cols) * dtype_size(t->dtype), tmp, (size_t)cols);
    for (int64_t c = 0; c < cols; c++) out[c] = tmp[c];
    free(tmp);
}

/* W = (1 − α) B + α B R* over the stacked query and key rows of one layer. */
static int procrustes_layer(struct qk_block *blocks, int n, double alpha, struct hr_error *e)
{
    int64_t rows = 0, cols = blocks[0].cols;
    for (int b = 0; b < n; b++) {
        if (blocks[b].cols != cols)
            return hr_fail(e, "%s: tensor '%s' has %lld columns, unlike the other query/key projections",
                           blocks[b].tuned->path, blocks[b].tuned->name, (long long)blocks[b].cols);
        rows += arrlen(blocks[b].rows);
    }
    double *B = malloc((size_t)(rows * cols) * sizeof *B), *F = malloc((size_t)(rows * cols) * sizeof *F),
           *R = malloc((size_t)(cols * cols) * sizeof *R), *W = malloc((size_t)cols * sizeof *W);
    int rc = 0;
    int64_t at = 0;
    for (int b = 0; b < n; b++)
        for (ptrdiff_t k = 0; k < arrlen(blocks[b].rows); k++, at++) {
            read_row(blocks[b].base, blocks[b].rows[k], cols, B + at * cols);
            read_row(blocks[b].tuned, blocks[b].rows[k], cols, F + at * cols);
        }
    if (procrustes_rotation(B, F, rows, cols, R, NULL) != 0) {
        rc = hr_fail(e, "%s: the SVD of the Procrustes problem did not converge", blocks[0].tuned->path);
    } else {
        at = 0;
        for (int b = 0; b < n; b++)
            for (ptrdiff_t k = 0; k < arrlen(blocks[b].rows); k++, at++) {
                const double *Brow = B + at * cols;
                for (int64_t j = 0; j < cols; j++) {
                    double acc = 0;
                    for (int64_t i = 0; i < cols; i++) acc += Brow[i] * R[i * cols + j];
                    W[j] = (1 - alpha) * Brow[j] + alpha * acc;
                }
                float *dst = blocks[b].patch + blocks[b].rows[k] * cols;
                for (int64_t j = 0; j < cols; j++) dst[j] = round_to(blocks[b].tuned->dtype, (float)W[j]);
            }
    }
    free(B), free(F), free(R), free(W);
    return rc;
}

/* Copies the selected rows of base into the patch (qk restore, biases, norms). */
static void copy_rows(struct qk_block *bl)
{
    double *row = malloc((size_t)bl->cols * sizeof *row);
    for (ptrdiff_t k = 0; k < arrlen(bl->rows); k++) {
        read_row(bl->base, bl->rows[k], bl->cols, row);
        float *dst = bl->patch + bl->rows[k] * bl->cols;
        for (int64_t j = 0; j < bl->cols; j++) dst[j] = round_to(bl->tuned->dtype, (float)row[j]);
    }
    free(row);
}

/* The heads of a layer's q and k rows, for the output-side Procrustes. */
struct head_layout {
    int heads, kv_heads, head_dim, rope_dims;
    const char *refusal; /* why the layer has no routing-preserving rotation, or NULL */
};

static struct head_layout layout_of(const struct model *plan, int i)
{
    const struct layer *L = &plan->layers[i];
    const struct model_config *c = &plan->cfg;
    if (L->mixer == MIXER_SOFTMAX_ATTENTION)
        return (struct head_layout){c->num_heads, c->num_kv_heads, c->head_dim, L->attn.rope ? c->rotary_dim : 0, NULL};
    if (L->mixer == MIXER_LIGHTNING && L->lightning.qkv.rows == 0) /* HypeNet's; MiniMax's fuses q, k, v under a SiLU */
        return (struct head_layout){L->lightning.heads, L->lightning.kv_heads, L->lightning.head_dim,
                                    L->lightning.rope ? c->rotary_dim : 0, NULL};
    return (struct head_layout){.refusal = "its q and k pass an activation (or a fused layout) before their product"};
}

static bool role_selected(enum qk_role role, const struct restore_options *o)
{
    switch (role) {
    case QK_QUERY: return o->parts & RESTORE_Q;
    case QK_KEY: return o->parts & RESTORE_K;
    case QK_VALUE: return o->parts & RESTORE_V;
    case QK_OUTPUT: return o->parts & RESTORE_O;
    case QK_QUERY_BIAS: return o->with_biases && (o->parts & RESTORE_Q);
    case QK_KEY_BIAS: return o->with_biases && (o->parts & RESTORE_K);
    case QK_VALUE_BIAS: return o->with_biases && (o->parts & RESTORE_V);
    case QK_NORM: return o->with_norms && (o->parts & (RESTORE_Q | RESTORE_K));
    }
    return false;
}

/* The rows of a role over its blocks, in order: (block, row) pairs. */
struct row_ref {
    struct qk_block *block;
    int64_t row;
};

static struct row_ref *rows_of(struct qk_block *blocks, const enum qk_role *roles, int n, enum qk_role role)
{
    struct row_ref *out = NULL;
    for (int b = 0; b < n; b++)
        if (roles[b] == role)
            for (ptrdiff_t k = 0; k < arrlen(blocks[b].rows); k++)
                arrput(out, ((struct row_ref){&blocks[b], blocks[b].rows[k]}));
    return out;
}

/* Output side (restore.h): per KV group g, R_g from the stacked columns of
 * the group's query heads and its key head, W^new = R_g W^base, biases too. */
static int procrustes_output_layer(struct qk_block *blocks, const enum qk_role *roles, int n,
                                   const struct head_layout *h, int layer, struct hr_error *e)
{
    struct row_ref *q = rows_of(blocks, roles, n, QK_QUERY), *k = rows_of(blocks, roles, n, QK_KEY),
                   *qb = rows_of(blocks, roles, n, QK_QUERY_BIAS), *kb = rows_of(blocks, roles, n, QK_KEY_BIAS);
    const int d = h->head_dim, group = h->kv_heads ? h->heads / h->kv_heads : 0;
    int rc = 0;
    if (arrlen(q) != (ptrdiff_t)h->heads * d || arrlen(k) != (ptrdiff_t)h->kv_heads * d ||
        group * h->kv_heads != h->heads)
        rc = hr_fail(e, "layer %d: %td query and %td key rows are not %d and %d heads of %d", layer, arrlen(q),
                     arrlen(k), h->heads, h->kv_heads, d);
    const int64_t cols = rc == 0 ? q[0].block->cols : 0;
    for (ptrdiff_t i = 0; rc == 0 && i < arrlen(k); i++)
        if (k[i].block->cols != cols) rc = hr_fail(e, "layer %d: query and key projections differ in width", layer);
    /* A, B [d, (group + 1) · cols]: head j's rows side by side, key head last. */
    const int64_t width = (int64_t)(group + 1) * cols;
    double *A = malloc((size_t)(d * width) * sizeof *A), *B = malloc((size_t)(d * width) * sizeof *B),
           *R = malloc((size_t)d * d * sizeof *R), *row = malloc((size_t)(cols > 1 ? cols : 1) * sizeof *row),
           *out = malloc((size_t)(cols > 1 ? cols : 1) * sizeof *out);
    if (rc == 0 && (!A || !B || !R || !row || !out)) rc = hr_fail(e, "out of memory");
    for (int g = 0; rc == 0 && g < h->kv_heads; g++) {
        for (int j = 0; j <= group; j++)
            for (int r = 0; r < d; r++) {
                const struct row_ref *ref = j < group ? &q[(int64_t)(g * group + j) * d + r] : &k[(int64_t)g * d + r];
                read_row(ref->block->base, ref->row, cols, A + r * width + j * cols);
                read_row(ref->block->tuned, ref->row, cols, B + r * width + j * cols);
            }
        if (procrustes_left(A, B, d, width, h->rope_dims, R) != 0) {
            rc = hr_fail(e, "layer %d: the SVD of the Procrustes problem did not converge", layer);
            break;
        }
        /* W^new rows r = Σ_s R[r][s] W^base rows s, for each head of the group (and its biases). */
        for (int j = 0; j <= group; j++) {
            const struct row_ref *W = j < group ? &q[(int64_t)(g * group + j) * d] : &k[(int64_t)g * d];
            for (int r = 0; r < d; r++) {
                for (int64_t c = 0; c < cols; c++) {
                    double acc = 0;
                    for (int s2 = 0; s2 < d; s2++) acc += R[r * d + s2] * A[s2 * width + j * cols + c];
                    out[c] = acc;
                }
                float *dst = W[r].block->patch + W[r].row * cols;
                for (int64_t c = 0; c < cols; c++) dst[c] = round_to(W[r].block->tuned->dtype, (float)out[c]);
            }
            struct row_ref *bias = j < group ? qb : kb;
            const int64_t first = j < group ? (int64_t)(g * group + j) * d : (int64_t)g * d;
            if (arrlen(bias) < first + d) continue;
            for (int r = 0; r < d; r++) {
                double acc = 0;
                for (int s2 = 0; s2 < d; s2++) {
                    read_row(bias[first + s2].block->base, bias[first + s2].row, 1, row);
                    acc += R[r * d + s2] * row[0];
                }
                bias[first + r].block->patch[bias[first + r].row] =
                    round_to(bias[first + r].block->tuned->dtype, (float)acc);
            }
        }
    }
    free(A), free(B), free(R), free(row), free(out);
    arrfree(q), arrfree(k), arrfree(qb), arrfree(kb);
    return rc;
}

static int restore_layer(const struct architecture *arch, const struct model *plan, int i, const struct st_archive *ta,
                         const struct st_archive *ba, const struct restore_options *o, struct tensor_patch **patches,
                         struct hr_error *e)
{
    const struct model_config *c = &plan->cfg;
    struct qk_parts parts = {0};
    if (arch->qk_parts(c, i, &parts, e)) return -1;
    struct qk_block blocks[QK_MAX_PARTS] = {{0}};
    enum qk_role roles[QK_MAX_PARTS];
    int n = 0, rc = 0;
    const bool rotate = o->method == RESTORE_PROCRUSTES;
    for (int p = 0; p < parts.n && rc == 0; p++) {
        const struct qk_part *part = &parts.part[p];
        if (!role_selected(part->role, o)) continue;
        const struct st_tensor *t = st_find(ta, part->name), *b = st_find(ba, part->name);
        if (!t || !b) {
            rc = hr_fail(e, "%s: layer %d has no tensor '%s' to restore", t ? o->base_dir : c->path, i, part->name);
            break;
        }
        struct qk_block bl = {.tuned = t, .base = b, .cols = t->ndim == 2 ? t->shape[1] : 1};
        bl.patch = patch_for(patches, t);
        if (!bl.patch) rc = hr_fail(e, "out of memory");
        if (rc == 0) rc = part_rows(part, t->shape[0], &bl.rows, e, t->path);
        if (rc != 0) break;
        /* Rotated: q/k (and their biases on the output side); the rest copied. */
        const bool qk = part->role == QK_QUERY || part->role == QK_KEY;
        const bool qk_bias = part->role == QK_QUERY_BIAS || part->role == QK_KEY_BIAS;
        if (rotate && (qk || (qk_bias && o->side == PROCRUSTES_OUTPUT))) {
            roles[n] = part->role;
            blocks[n++] = bl;
        } else {
            copy_rows(&bl);
            arrfree(bl.rows);
        }
    }
    if (rc == 0 && n > 0) {
        if (o->side == PROCRUSTES_INPUT) {
            rc = procrustes_layer(blocks, n, o->alpha, e);
        } else {
            const struct head_layout h = layout_of(plan, i);
            rc = h.refusal ? hr_fail(e,
                                     "restore: layer %d (%s) has no routing-preserving rotation: %s; use "
                                     "--procrustes-side input or --restore qk",
                                     i, mixer_kind_name(plan->layers[i].mixer), h.refusal)
                           : procrustes_output_layer(blocks, roles, n, &h, i, e);
        }
    }
    for (int b = 0; b < n; b++) arrfree(blocks[b].rows);
    return rc;
}

int restore_compute(const char *tuned_dir, const struct restore_options *o, struct tensor_patch **patches_out,
                    char **summary, struct hr_error *e)
{
    struct model_config tc, bc;
    struct st_archive ta = {0}, ba = {0};
    struct tensor_patch *patches = NULL;
    sh_new_strdup(patches);
    *patches_out = NULL;
    if (summary) *summary = NULL;
    const struct architecture *arch, *base_arch;
    if (arch_config_load(tuned_dir, &tc, &arch, e)) return -1;
    int rc = arch_config_load(o->base_dir, &bc, &base_arch, e);
    if (rc) {
        config_free(&tc);
        return -1;
    }
    if (rc == 0) rc = st_open_dir(tuned_dir, &ta, e);
    if (rc == 0) rc = st_open_dir(o->base_dir, &ba, e);
    if (rc == 0) rc = check_compatible(tuned_dir, o->base_dir, &tc, &bc, &ta, &ba, e);
    if (rc == 0 && o->scope == RESTORE_LIST)
        for (int k = 0; k < o->num_layers; k++)
            if (o->layers[k] >= tc.num_layers)
                rc = hr_fail(e, "restore layers: layer %d does not exist (%s has %d layers)", o->layers[k], tuned_dir,
                             tc.num_layers);
    if (rc == 0 && o->method == RESTORE_PROCRUSTES && (o->parts & (RESTORE_Q | RESTORE_K)) != (RESTORE_Q | RESTORE_K))
        rc = hr_fail(e, "restore: procrustes rotates W_Q and W_K together: its parts must include q and k");
    if (rc == 0 && o->method == RESTORE_PROCRUSTES && o->side == PROCRUSTES_OUTPUT && o->alpha != 1.0)
        rc = hr_fail(e,
                     "restore: --procrustes-alpha %g: a blend of R_g W and W keeps no routing form; the output "
                     "side takes alpha 1 only (--procrustes-side input blends)",
                     o->alpha);
    /* The layer plan (mixers, heads, RoPE) for the output-side rotation. */
    struct model plan = {0};
    struct wanted_tensor *wanted = NULL;
    char config_path[4200];
    snprintf(config_path, sizeof config_path, "%s/config.json", tuned_dir);
    if (rc == 0) rc = model_plan(config_path, &plan, &wanted, e);
    char layers[2048] = "";
    int restored = 0;
    for (int i = 0; rc == 0 && i < tc.num_layers; i++) {
        if (!layer_selected(o, &tc, i)) continue;
        rc = restore_layer(arch, &plan, i, &ta, &ba, o, &patches, e);
        snprintf(layers + strlen(layers), sizeof layers - strlen(layers), "%s%d", restored ? "," : "", i);
        restored++;
    }
    if (rc == 0 && restored == 0) rc = hr_fail(e, "restore: no layer of %s matches the requested layers", tuned_dir);
    if (plan.layers || plan.dir) model_free(&plan);
    wanted_tensors_free(wanted);
    if (rc == 0 && summary) {
        size_t n = strlen(layers) + 256;
        char parts[32];
        *summary = malloc(n);
        snprintf(*summary, n, "method=%s%s layers=%s parts=%s alpha=%g with=%s%s",
                 o->method == RESTORE_QK ? "qk" : "procrustes",
                 o->method == RESTORE_QK       ? ""
                 : o->side == PROCRUSTES_INPUT ? " side=input"
                                               : " side=output",
                 layers, restore_parts_name(o->parts, parts, sizeof parts), o->method == RESTORE_QK ? 0.0 : o->alpha,
                 o->with_biases ? "biases," : "", o->with_norms ? "norms" : "");
    }
    st_close_archive(&ta);
    st_close_archive(&ba);
    config_free(&tc);
    config_free(&bc);
    if (rc != 0) {
        tensor_patches_free(patches);
        return -1;
    }
    *patches_out = patches;
    return 0;
}

int restore_load_model(const char *tuned_dir, const struct restore_options *o, struct model *m, struct hr_error *e)
{
    struct tensor_patch *patches;
    if (restore_compute(tuned_dir, o, &patches, NULL, e)) return -1;
    return model_load_patched(tuned_dir, patches, m, e);
}

/* ---- writing a restored checkpoint ---------------------------------------- */

static int copy_file_to(const char *from, const char *to, struct hr_error *e)
{
    FILE *in = fopen(from, "rb");
    if (!in) return hr_fail(e, "%s: cannot open: %s", from, strerror(errno));
    FILE *out = fopen(to, "wb");
    if (!out) {
        fclose(in);
        return hr_fail(e, "%s: cannot create: %s", to, strerror(errno));
    }
    char buf[1 << 16];
    size_t n;
    int rc = 0;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n) rc = -1;
    fclose(in);
    if (fclose(out) != 0 || rc) return hr_fail(e, "%s: write failed", to);
    return 0;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Every regular file of the tuned directory but its weights. */
static int copy_side_files(const char *tuned_dir, const char *tmp, struct hr_error *e)
{
    DIR *d = opendir(tuned_dir);
    if (!d) return hr_fail(e, "%s: cannot list: %s", tuned_dir, strerror(errno));
    struct dirent *ent;
    int rc = 0;
    char from[4096], to[2400];
    while (rc == 0 && (ent = readdir(d))) {
        if (ends_with(ent->d_name, ".safetensors") || strcmp(ent->d_name, "model.safetensors.index.json") == 0)
            continue;
        snprintf(from, sizeof from, "%s/%s", tuned_dir, ent->d_name);
        struct stat sb;
        if (stat(from, &sb) != 0 || !S_ISREG(sb.st_mode)) continue;
        if (snprintf(to, sizeof to, "%s/%.255s", tmp, ent->d_name) >= (int)sizeof to) continue;
        rc = copy_file_to(from, to, e);
    }
    closedir(d);
    return rc;
}

static int write_weights(const char *tuned_dir, const struct restore_options *o, struct tensor_patch *patches,
                         const char *summary, const char *path, struct hr_error *e)
{
    struct st_archive ta;
    if (st_open_dir(tuned_dir, &ta, e)) return -1;
    struct st_write_tensor *out = NULL;
    void **owned = NULL;
    for (ptrdiff_t fi = 0; fi < arrlen(ta.files); fi++)
        for (ptrdiff_t ti = 0; ti < arrlen(ta.files[fi].tensors); ti++) {
            const struct st_tensor *t = &ta.files[fi].tensors[ti];
            struct st_write_tensor w = {t->name, t->dtype, t->ndim, {0}, t->data};
            memcpy(w.shape, t->shape, sizeof w.shape);
            ptrdiff_t pi = shgeti(patches, t->name);
            if (pi >= 0) { /* patched: back to the tensor's own dtype (exact: values were rounded to it) */
                const float *src = patches[pi].value;
                void *buf = malloc((size_t)t->nbytes + 1);
                for (int64_t k = 0; k < t->numel; k++) {
                    if (t->dtype == DT_F32)
                        ((float *)buf)[k] = src[k];
                    else if (t->dtype == DT_BF16)
                        ((uint16_t *)buf)[k] = f32_to_bf16(src[k]);
                    else
                        ((uint16_t *)buf)[k] = f32_to_f16(src[k]);
                }
                arrput(owned, buf);
                w.data = buf;
            }
            arrput(out, w);
        }
    const char *meta[] = {"format",  "pt", "hyrecall_restore", summary, "restore_base", o->base_dir, "restore_tuned",
                          tuned_dir, NULL};
    int rc = st_write_file(path, out, (int)arrlen(out), meta, false, e);
    for (ptrdiff_t i = 0; i < arrlen(owned); i++) free(owned[i]);
    arrfree(owned);
    arrfree(out);
    st_close_archive(&ta);
    return rc;
}

int restore_write_checkpoint(const char *tuned_dir, const struct restore_options *o, const char *out_dir,
                             struct hr_error *e)
{
    struct atomic_output out;
    if (atomic_begin(&out, ATOMIC_DIRECTORY, out_dir, false, e)) return -1;
    struct tensor_patch *patches;
    char *summary;
    if (restore_compute(tuned_dir, o, &patches, &summary, e)) {
        atomic_abort(&out);
        return -1;
    }
    char path[4200];
    int rc = copy_side_files(tuned_dir, out.tmp, e);
    snprintf(path, sizeof path, "%s/model.safetensors", out.tmp);
    if (rc == 0) rc = write_weights(tuned_dir, o, patches, summary, path, e);
    if (rc == 0) {
        /* The settings as fields (the run records' "restore" object), the summary as text. */
        cJSON *j = restore_options_json(o);
        cJSON_AddStringToObject(j, "tuned", tuned_dir);
        cJSON_AddStringToObject(j, "summary", summary);
        char *text = cJSON_Print(j);
        cJSON_Delete(j);
        snprintf(path, sizeof path, "%s/hyrecall_restore.json", out.tmp);
        FILE *f = fopen(path, "wb");
        if (!f || fputs(text, f) < 0 || fputc('\n', f) < 0)
            rc = hr_fail(e, "%s: cannot write hyrecall_restore.json", out_dir);
        if (f && fclose(f) != 0 && rc == 0) rc = hr_fail(e, "%s: cannot write hyrecall_restore.json", out_dir);
        free(text);
    }
    if (rc == 0)
        rc = atomic_commit(&out, e);
    else
        atomic_abort(&out);
    free(summary);
    tensor_patches_free(patches);
    return rc;
}

struct restore_options variant_restore_options(const struct variant *v, const struct restore_options *o)
{
    struct restore_options r = *o;
    if (v->base[0]) {
        struct hr_error e;
        r.base_dir = v->base;
        restore_parse_spec(v->restore, &r, &e); /* checked when parsed */
    }
    return r;
}

cJSON *restore_options_json(const struct restore_options *o)
{
    if (!o || !o->base_dir) return NULL;
    static const char *const scopes[] = {"full", "attention", "linear", "all"};
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "base", o->base_dir);
    char parts[32];
    cJSON_AddStringToObject(r, "method", o->method == RESTORE_QK ? "qk" : "procrustes");
    if (o->method == RESTORE_PROCRUSTES)
        cJSON_AddStringToObject(r, "side", o->side == PROCRUSTES_INPUT ? "input" : "output");
    cJSON_AddStringToObject(r, "parts", restore_parts_name(o->parts, parts, sizeof parts));
    if (o->scope == RESTORE_LIST) {
        cJSON *layers = cJSON_AddArrayToObject(r, "layers");
        for (int i = 0; i < o->num_layers; i++) cJSON_AddItemToArray(layers, cJSON_CreateNumber(o->layers[i]));
    } else {
        cJSON_AddStringToObject(r, "layers", scopes[o->scope]);
    }
    if (o->method == RESTORE_PROCRUSTES) cJSON_AddNumberToObject(r, "alpha", o->alpha);
    cJSON_AddBoolToObject(r, "with_biases", o->with_biases);
    cJSON_AddBoolToObject(r, "with_norms", o->with_norms);
    return r;
}
