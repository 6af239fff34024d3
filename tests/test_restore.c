/* The restore module (engine/restore.h):
 *  - Procrustes: R orthogonal to 1e-10, attaining the closed-form minimum, no
 *    worse than the identity or 300 random rotations;
 *  - restoring from an identical checkpoint is a bit-for-bit no-op on logits;
 *  - qk restore equals a checkpoint whose W_Q/W_K rows were swapped by hand
 *    here (including Qwen3-Next's fused q_proj);
 *  - a written checkpoint reloads to logits bit-identical to load-time patching
 *    (F32 and BF16 checkpoints, qk and procrustes);
 *  - mismatched checkpoints, an existing or unwritable --out: errors, inputs
 *    untouched, nothing left behind.
 *   test_restore GOLDENS_DIR */
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "procrustes.h"
#include "restore.h"
#include "session.h"
#include "stb_ds.h"
#include "test_util.h"
#include "weight_diff.h"

static const char *goldens;
static uint64_t rng = 0x9E3779B97F4A7C15ull;
static double urand(void) /* uniform in [-1, 1) */
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (double)(rng >> 11) / 4503599627370496.0 - 1.0;
}

static double objective(const double *B, const double *F, const double *R, int rows, int cols)
{
    double s = 0;
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) {
            double v = -F[i * cols + j];
            for (int k = 0; k < cols; k++) v += B[i * cols + k] * R[k * cols + j];
            s += v * v;
        }
    return s;
}

/* A random orthogonal matrix: Q of the QR factorisation of a Gaussian-ish one. */
static void random_rotation(double *Q, int n)
{
    double tau[64];
    for (int i = 0; i < n * n; i++) Q[i] = urand() + urand() + urand();
    LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, n, n, Q, n, tau);
    LAPACKE_dorgqr(LAPACK_ROW_MAJOR, n, n, n, Q, n, tau);
}

static void procrustes_math(void)
{
    enum { ROWS = 40, COLS = 12 };
    double B[ROWS * COLS], F[ROWS * COLS], R[COLS * COLS], Q[COLS * COLS], Id[COLS * COLS] = {0}, min;
    for (int i = 0; i < COLS; i++) Id[i * COLS + i] = 1;
    for (int i = 0; i < ROWS * COLS; i++) B[i] = urand(), F[i] = urand();
    CHECK(procrustes_rotation(B, F, ROWS, COLS, R, &min) == 0, "SVD failed");
    double orth = 0;
    for (int i = 0; i < COLS; i++)
        for (int j = 0; j < COLS; j++) {
            double d = -(i == j);
            for (int k = 0; k < COLS; k++) d += R[k * COLS + i] * R[k * COLS + j];
            orth += d * d;
        }
    orth = sqrt(orth);
    double got = objective(B, F, R, ROWS, COLS), best_random = INFINITY;
    for (int t = 0; t < 300; t++) {
        random_rotation(Q, COLS);
        best_random = fmin(best_random, objective(B, F, Q, ROWS, COLS));
    }
    printf("procrustes: |R^T R - I| = %.2g; objective %.6f, closed-form minimum %.6f, identity %.6f, best of 300 "
           "random rotations %.6f\n",
           orth, got, min, objective(B, F, Id, ROWS, COLS), best_random);
    CHECK(orth < 1e-10, "R is not orthogonal: %g", orth);
    CHECK(fabs(got - min) < 1e-9 * fmax(1, min), "objective %g is not the closed-form minimum %g", got, min);
    CHECK(got <= objective(B, F, Id, ROWS, COLS) && got <= best_random, "a rotation beats R*");
    /* F = B: R* = I. */
    CHECK(procrustes_rotation(B, B, ROWS, COLS, R, NULL) == 0, "SVD failed");
    double dev = 0;
    for (int i = 0; i < COLS * COLS; i++) dev = fmax(dev, fabs(R[i] - Id[i]));
    printf("procrustes: B onto itself gives R = I within %.2g\n", dev);
    CHECK(dev < 1e-10, "R* for F = B deviates from I by %g", dev);
}

/* ---- checkpoints ------------------------------------------------------- */

static char *golden(const char *name)
{
    char *p = malloc(4096);
    snprintf(p, 4096, "%s/%s", goldens, name);
    return p;
}

/* A "fine-tuned" copy of SRC: every float tensor moved by deterministic noise,
 * stored as dtype (F32 or BF16). */
static char *make_tuned(const char *src, enum dtype dtype)
{
    char *dir = make_temp_dir("tuned"), path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", src);
    struct st_file f;
    struct hr_error e;
    if (st_open_file(path, &f, &e)) abort();
    int n = (int)arrlen(f.tensors);
    struct st_write_tensor *t = calloc((size_t)n, sizeof *t);
    void **bufs = calloc((size_t)n, sizeof *bufs);
    for (int i = 0; i < n; i++) {
        const struct st_tensor *s = &f.tensors[i];
        float *v = malloc((size_t)s->numel * 4 + 4);
        dtype_to_f32(s->dtype, s->data, v, (size_t)s->numel);
        for (int64_t k = 0; k < s->numel; k++) v[k] = v[k] * (float)(1 + 0.1 * urand()) + (float)(0.02 * urand());
        t[i] = (struct st_write_tensor){s->name, dtype, s->ndim, {0}, v};
        memcpy(t[i].shape, s->shape, sizeof t[i].shape);
        if (dtype == DT_BF16) {
            uint16_t *h = malloc((size_t)s->numel * 2 + 2);
            for (int64_t k = 0; k < s->numel; k++) h[k] = f32_to_bf16(v[k]);
            free(v);
            t[i].data = h;
        }
        bufs[i] = (void *)t[i].data;
    }
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (st_write_file(path, t, n, NULL, false, &e)) abort();
    for (int i = 0; i < n; i++) free(bufs[i]);
    free(bufs), free(t);
    st_close_file(&f);
    char from[4096];
    snprintf(from, sizeof from, "%s/config.json", src);
    snprintf(path, sizeof path, "%s/config.json", dir);
    copy_file(from, path);
    return dir;
}

/* Logits [T, V] of a fixed 40-token prompt. */
static float *logits_of(struct model *m, int *count)
{
    const int T = 40, V = m->cfg.vocab_size;
    int32_t ids[40];
    for (int i = 0; i < T; i++) ids[i] = (int32_t)((i * 37 + 11) % V);
    float *out = malloc((size_t)T * V * sizeof(float));
    struct session s;
    struct hr_error e;
    if (session_init(&s, m, 0, &e) || session_forward(&s, ids, T, out, true, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        abort();
    }
    session_free(&s);
    *count = T * V;
    return out;
}

static float *logits_plain(const char *dir, int *n)
{
    struct model m;
    struct hr_error e;
    if (model_load(dir, &m, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        abort();
    }
    float *l = logits_of(&m, n);
    model_free(&m);
    return l;
}

static float *logits_restored(const char *dir, const struct restore_options *o, int *n)
{
    struct model m;
    struct hr_error e;
    if (restore_load_model(dir, o, &m, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        abort();
    }
    float *l = logits_of(&m, n);
    model_free(&m);
    return l;
}

static void identical_is_noop(const char *name, enum restore_method method, const char *layers)
{
    char *dir = golden(name);
    struct restore_options o;
    struct hr_error e;
    restore_options_default(&o);
    o.base_dir = dir;
    o.method = method;
    restore_parse_layers(layers, &o, &e);
    int n;
    float *a = logits_plain(dir, &n), *b = logits_restored(dir, &o, &n);
    bool same = memcmp(a, b, (size_t)n * sizeof(float)) == 0;
    printf("identical base, %-12s %-10s layers %-4s: %s\n", name, method == RESTORE_QK ? "qk" : "procrustes", layers,
           same ? "bit-identical logits" : "DIFFERENT");
    CHECK(same, "%s: restoring from itself changes logits", name);
    free(a), free(b), free(dir);
}

/* Copies rows [first + r*period, +count) for r < repeats of tensor `name`
 * from base into the write list entry (hand swap). */
static void swap_rows(struct st_write_tensor *w, const struct st_file *base, int64_t first, int64_t count,
                      int64_t period, int64_t repeats)
{
    const struct st_tensor *b = st_file_find(base, w->name);
    const int64_t cols = w->ndim == 2 ? w->shape[1] : 1;
    float *dst = (float *)w->data;
    for (int64_t r = 0; r < repeats; r++)
        for (int64_t i = 0; i < count; i++) {
            int64_t row = first + r * period + i;
            memcpy(dst + row * cols, (const float *)b->data + row * cols, (size_t)cols * sizeof(float));
        }
}

/* qk restore of the full layers == the tuned checkpoint with those rows
 * replaced by hand. */
static void hand_swap(const char *name)
{
    char *base = golden(name), *tuned = make_tuned(base, DT_F32), path[4096];
    char *hand = make_temp_dir("hand");
    struct hr_error e;
    struct model_config c;
    if (config_load(base, &c, &e)) abort();
    struct st_file tf, bf;
    snprintf(path, sizeof path, "%s/model.safetensors", tuned);
    st_open_file(path, &tf, &e);
    snprintf(path, sizeof path, "%s/model.safetensors", base);
    st_open_file(path, &bf, &e);
    int n = (int)arrlen(tf.tensors);
    struct st_write_tensor *w = calloc((size_t)n, sizeof *w);
    for (int i = 0; i < n; i++) {
        const struct st_tensor *t = &tf.tensors[i];
        float *copy = malloc(t->nbytes + 4);
        memcpy(copy, t->data, t->nbytes);
        w[i] = (struct st_write_tensor){t->name, DT_F32, t->ndim, {0}, copy};
        memcpy(w[i].shape, t->shape, sizeof w[i].shape);
    }
    int swapped = 0;
    for (int layer = 0; layer < c.num_layers; layer++) {
        if (c.layer_kinds[layer] != LAYER_FULL_ATTENTION) continue;
        for (int i = 0; i < n; i++) {
            char q[128], k[128];
            snprintf(q, sizeof q, "model.layers.%d.self_attn.q_proj.weight", layer);
            snprintf(k, sizeof k, "model.layers.%d.self_attn.k_proj.weight", layer);
            if (strcmp(w[i].name, k) == 0) swap_rows(&w[i], &bf, 0, w[i].shape[0], 0, 1), swapped++;
            if (strcmp(w[i].name, q) != 0) continue;
            swapped++;
            if (strcmp(c.model_type, "qwen3_next") == 0) /* per head: q rows, then gate rows */
                swap_rows(&w[i], &bf, 0, c.head_dim, 2 * c.head_dim, c.num_heads);
            else
                swap_rows(&w[i], &bf, 0, w[i].shape[0], 0, 1);
        }
    }
    snprintf(path, sizeof path, "%s/model.safetensors", hand);
    st_write_file(path, w, n, NULL, false, &e);
    char from[4096];
    snprintf(from, sizeof from, "%s/config.json", base);
    snprintf(path, sizeof path, "%s/config.json", hand);
    copy_file(from, path);

    struct restore_options o;
    restore_options_default(&o);
    o.base_dir = base;
    int cnt;
    float *a = logits_restored(tuned, &o, &cnt), *b = logits_plain(hand, &cnt), *t = logits_plain(tuned, &cnt);
    bool same = memcmp(a, b, (size_t)cnt * sizeof(float)) == 0;
    printf("qk restore vs hand swap of %d tensors, %-10s: %s (restore moved logits by up to %.3g)\n", swapped, name,
           same ? "bit-identical" : "DIFFERENT", max_abs_diff(a, t, cnt));
    CHECK(same, "%s: qk restore differs from the hand-swapped checkpoint", name);
    CHECK(max_abs_diff(a, t, cnt) > 0, "%s: restore changed nothing", name);
    for (int i = 0; i < n; i++) free((void *)w[i].data);
    free(w), free(a), free(b), free(t);
    st_close_file(&tf), st_close_file(&bf);
    config_free(&c);
    remove_tree(tuned), remove_tree(hand);
    free(tuned), free(hand), free(base);
}

static void written_equals_patched(const char *name, enum dtype dtype, enum restore_method method)
{
    char *base = golden(name), *tuned = make_tuned(base, dtype), *parent = make_temp_dir("out"), out[4096];
    snprintf(out, sizeof out, "%s/restored", parent);
    struct restore_options o;
    struct hr_error e;
    restore_options_default(&o);
    o.base_dir = base;
    o.method = method;
    o.alpha = 0.7;
    restore_parse_layers("all", &o, &e);
    int rc = restore_write_checkpoint(tuned, &o, out, &e);
    CHECK(rc == 0, "write failed: %s", e.msg);
    if (rc == 0) {
        int n;
        float *a = logits_restored(tuned, &o, &n), *b = logits_plain(out, &n);
        bool same = memcmp(a, b, (size_t)n * sizeof(float)) == 0;
        printf("written vs load-time, %-12s %-4s %-10s: %s\n", name, dtype_name(dtype),
               method == RESTORE_QK ? "qk" : "procrustes", same ? "bit-identical" : "DIFFERENT");
        CHECK(same, "%s: written checkpoint differs from load-time patching", name);
        free(a), free(b);
        /* The same --out again: refused, the existing directory untouched. */
        CHECK(restore_write_checkpoint(tuned, &o, out, &e) != 0 && strstr(e.msg, "already exists"),
              "an existing --out was not refused: %s", e.msg);
    }
    remove_tree(tuned), remove_tree(parent);
    free(tuned), free(parent), free(base);
}

static unsigned long checksum_dir(const char *dir)
{
    char path[4096];
    unsigned long h = 5381;
    const char *files[] = {"config.json", "model.safetensors"};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        FILE *f = fopen(path, "rb");
        int ch;
        while (f && (ch = fgetc(f)) != EOF) h = h * 33 + (unsigned long)ch;
        if (f) fclose(f);
    }
    return h;
}

static void errors(void)
{
    char *a = golden("qwen3_swa"), *b = golden("hypenet"), *parent = make_temp_dir("err"), out[4096], blocker[4096];
    unsigned long ha = checksum_dir(a), hb = checksum_dir(b);
    struct restore_options o;
    struct hr_error e;
    restore_options_default(&o);
    o.base_dir = b;
    snprintf(out, sizeof out, "%s/out", parent);
    CHECK(restore_write_checkpoint(a, &o, out, &e) != 0 && strstr(e.msg, "model_type"),
          "mismatched architectures accepted: %s", e.msg);
    printf("mismatch -> %s\n", e.msg);
    /* Same architecture, other tensor set: qwen3_swa vs a copy missing a tensor is covered by the loader;
     * an unwritable --out: a path below a regular file. */
    o.base_dir = a;
    snprintf(blocker, sizeof blocker, "%s/file", parent);
    FILE *f = fopen(blocker, "w");
    fclose(f);
    snprintf(out, sizeof out, "%s/file/out", parent);
    CHECK(restore_write_checkpoint(a, &o, out, &e) != 0 && strstr(e.msg, "cannot create"),
          "unwritable --out accepted: %s", e.msg);
    printf("unwritable -> %s\n", e.msg + strlen(parent) + 1);
    /* Nothing partial left in parent: only the blocker file. */
    int entries = 0;
    DIR *d = opendir(parent);
    for (struct dirent *ent; (ent = readdir(d));) entries += ent->d_name[0] != '.';
    closedir(d);
    CHECK(entries == 1, "%d entries left in the output parent", entries);
    CHECK(checksum_dir(a) == ha && checksum_dir(b) == hb, "an input checkpoint changed");
    remove_tree(parent);
    free(a), free(b), free(parent);
}

/* inspect --diff's measures on matrices with known answers. */
static void diff_measures(void)
{
    enum { R = 6, C = 10 };
    float a[R * C], b[R * C], rot[R * C];
    for (int i = 0; i < R * C; i++) a[i] = (float)urand(), b[i] = 2 * a[i];
    /* rot: a with input dimensions 0 and 1 rotated by 30 degrees. */
    const double th = M_PI / 6;
    for (int r = 0; r < R; r++) {
        for (int c = 0; c < C; c++) rot[r * C + c] = a[r * C + c];
        rot[r * C + 0] = (float)(cos(th) * a[r * C + 0] - sin(th) * a[r * C + 1]);
        rot[r * C + 1] = (float)(sin(th) * a[r * C + 0] + cos(th) * a[r * C + 1]);
    }
    double scaled = top_subspace_angle(a, b, R, C, 3), rotated = top_subspace_angle(a, rot, R, C, R);
    double same = top_subspace_angle(a, a, R, C, 3), rel = relative_change(a, b, R * C);
    printf("diff measures: |A-2A|/|A| = %.3g; angle(A, 2A) = %.2g deg; angle(A, A) = %.2g deg; angle of the full row "
           "space after a 30-degree input rotation = %.2f deg\n",
           rel, scaled, same, rotated);
    CHECK(fabs(rel - 1) < 1e-6, "relative change of 2A is %g", rel);
    CHECK(scaled < 1e-3 && same < 1e-3, "scaling or identity moved the subspace: %g, %g", scaled, same);
    CHECK(rotated > 1 && rotated <= 30.0 + 1e-3, "rotation angle %g outside (1, 30]", rotated);
}

int main(int argc, char **argv)
{
    diff_measures();
    if (argc < 2) return 2;
    goldens = argv[1];
    procrustes_math();
    const char *models[] = {"qwen3_swa", "qwen3_next", "minimax", "hypenet", "jet_nemotron"};
    for (int i = 0; i < 5; i++) {
        identical_is_noop(models[i], RESTORE_QK, "all");
        identical_is_noop(models[i], RESTORE_PROCRUSTES, "all");
    }
    hand_swap("qwen3_swa");
    hand_swap("qwen3_next");
    written_equals_patched("qwen3_swa", DT_F32, RESTORE_QK);
    written_equals_patched("qwen3_next", DT_BF16, RESTORE_PROCRUSTES);
    written_equals_patched("minimax", DT_BF16, RESTORE_QK);
    written_equals_patched("jet_nemotron", DT_F32, RESTORE_PROCRUSTES);
    errors();
    return test_finish("test_restore");
}
