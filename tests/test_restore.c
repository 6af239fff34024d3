/* The restore module (engine/restore/restore.h):
 *  - Procrustes: R orthogonal to 1e-10, attaining the closed-form minimum, no
 *    worse than the identity or 300 random rotations;
 *  - restoring from an identical checkpoint is a bit-for-bit no-op on logits;
 *  - qk restore equals a checkpoint whose W_Q/W_K rows were swapped by hand
 *    here (including Qwen3-Next's fused q_proj);
 *  - a written checkpoint reloads to logits bit-identical to load-time patching
 *    (F32 and BF16 checkpoints, qk and procrustes);
 *  - the output-side Procrustes (routing-preserving): procrustes_left equal to
 *    the transposed problem's solution and no worse than random rotations;
 *    restricted to RoPE, commuting with RoPE and no worse than a grid of
 *    angles; on a perturbed HypeNet every head's W_Q^T W_K is the base's and
 *    the weights are closer to the tuned ones than QK-Restore's; on RoPE models
 *    the logits equal QK-Restore's (the base's routing), the input side's not;
 *  - --parts v patches exactly the v_proj of the restored layers; the input
 *    side is W = B R*, recomputed here;
 *  - mismatched checkpoints, an existing or unwritable --out: errors, inputs
 *    untouched, nothing left behind.
 *   test_restore GOLDENS_DIR */
#include <dirent.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/arch/arch.h"
#include "engine/load/config.h"
#include "engine/restore/procrustes.h"
#include "engine/restore/restore.h"
#include "engine/restore/weight_diff.h"
#include "engine/session.h"
#include "stb_ds.h"
#include "tests/test_util.h"

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

static void identical_is_noop(const char *name, enum restore_method method, enum restore_side side, const char *layers)
{
    char *dir = golden(name);
    struct restore_options o;
    struct hr_error e;
    restore_options_default(&o);
    o.base_dir = dir;
    o.method = method;
    o.side = side;
    restore_parse_layers(layers, &o, &e);
    int n;
    float *a = logits_plain(dir, &n), *b = logits_restored(dir, &o, &n);
    bool same = memcmp(a, b, (size_t)n * sizeof(float)) == 0;
    printf("identical base, %-12s %-16s layers %-9s: %s\n", name,
           method == RESTORE_QK       ? "qk"
           : side == PROCRUSTES_INPUT ? "procrustes-input"
                                      : "procrustes",
           layers, same ? "bit-identical logits" : "DIFFERENT");
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
    if (arch_config_load(base, &c, &(const struct architecture *){NULL}, &e)) abort();
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

static void written_equals_patched(const char *name, enum dtype dtype, enum restore_method method,
                                   enum restore_side side)
{
    char *base = golden(name), *tuned = make_tuned(base, dtype), *parent = make_temp_dir("out"), out[4096];
    snprintf(out, sizeof out, "%s/restored", parent);
    struct restore_options o;
    struct hr_error e;
    restore_options_default(&o);
    o.base_dir = base;
    o.method = method;
    o.side = side;
    /* The input side on every layer, blended; the output side where it is defined. */
    o.alpha = side == PROCRUSTES_INPUT ? 0.7 : 1.0;
    restore_parse_layers(method == RESTORE_PROCRUSTES && side == PROCRUSTES_OUTPUT ? "attention" : "all", &o, &e);
    int rc = restore_write_checkpoint(tuned, &o, out, &e);
    CHECK(rc == 0, "write failed: %s", e.msg);
    if (rc == 0) {
        int n;
        float *a = logits_restored(tuned, &o, &n), *b = logits_plain(out, &n);
        bool same = memcmp(a, b, (size_t)n * sizeof(float)) == 0;
        printf("written vs load-time, %-12s %-4s %-16s: %s\n", name, dtype_name(dtype),
               method == RESTORE_QK       ? "qk"
               : side == PROCRUSTES_INPUT ? "procrustes-input"
                                          : "procrustes",
               same ? "bit-identical" : "DIFFERENT");
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

/* ---- the output side (routing-preserving Procrustes) --------------------- */

/* ‖R A − B‖² for R [n, n] on the left of A, B [n, cols]. */
static double left_objective(const double *A, const double *B, const double *R, int n, int cols)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        for (int c = 0; c < cols; c++) {
            double v = -B[i * cols + c];
            for (int k = 0; k < n; k++) v += R[i * n + k] * A[k * cols + c];
            s += v * v;
        }
    return s;
}

/* The RoPE rotation of one position: plane i (dims i, i + half) by angle θ_i. */
static void rope_matrix(double *P, int n, int rope_dims, const double *theta)
{
    memset(P, 0, (size_t)n * n * sizeof *P);
    const int half = rope_dims / 2;
    for (int i = 0; i < n; i++) P[i * n + i] = 1;
    for (int i = 0; i < half; i++) {
        const int j = i + half;
        P[i * n + i] = cos(theta[i]), P[i * n + j] = -sin(theta[i]);
        P[j * n + i] = sin(theta[i]), P[j * n + j] = cos(theta[i]);
    }
}

static void procrustes_left_math(void)
{
    enum { N = 8, COLS = 30 };
    double A[N * COLS], B[N * COLS], R[N * N], Q[N * N], At[COLS * N], Bt[COLS * N], Rt[N * N];
    for (int i = 0; i < N * COLS; i++) A[i] = urand(), B[i] = urand();
    /* Unrestricted: the same R as the input-side solver on the transposes (an alternative solution),
     * and no random rotation does better. */
    CHECK(procrustes_left(A, B, N, COLS, 0, R) == 0, "SVD failed");
    for (int i = 0; i < N; i++)
        for (int c = 0; c < COLS; c++) At[c * N + i] = A[i * COLS + c], Bt[c * N + i] = B[i * COLS + c];
    CHECK(procrustes_rotation(At, Bt, COLS, N, Rt, NULL) == 0, "SVD failed");
    double dev = 0, best_random = INFINITY;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) dev = fmax(dev, fabs(R[i * N + j] - Rt[j * N + i]));
    for (int t = 0; t < 300; t++) {
        random_rotation(Q, N);
        best_random = fmin(best_random, left_objective(A, B, Q, N, COLS));
    }
    const double got = left_objective(A, B, R, N, COLS);
    printf("procrustes_left: R vs the transposed problem's %.2g; objective %.6f, best of 300 random rotations %.6f\n",
           dev, got, best_random);
    CHECK(dev < 1e-10, "procrustes_left differs from the transposed Procrustes solution by %g", dev);
    CHECK(got <= best_random, "a random rotation beats procrustes_left");
    /* Restricted to RoPE (6 rotating dims, 2 passing through): R commutes with every RoPE rotation,
     * and no angle of a brute-force grid, nor a random rotation of the free block, does better. */
    const int rope = 6;
    CHECK(procrustes_left(A, B, N, COLS, rope, R) == 0, "SVD failed");
    double theta[N / 2], P[N * N], RP, PR, comm = 0;
    for (int t = 0; t < 5; t++) {
        for (int i = 0; i < rope / 2; i++) theta[i] = 3 * urand() * (i + 1);
        rope_matrix(P, N, rope, theta);
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++) {
                RP = PR = 0;
                for (int k = 0; k < N; k++) RP += R[i * N + k] * P[k * N + j], PR += P[i * N + k] * R[k * N + j];
                comm = fmax(comm, fabs(RP - PR));
            }
    }
    const double restricted = left_objective(A, B, R, N, COLS);
    double best_grid = INFINITY;
    double C[N * N];
    for (int trial = 0; trial < 2000; trial++) { /* planes' angles on a grid, the free block from R or random */
        memcpy(C, R, sizeof C);
        for (int i = 0; i < rope / 2; i++) {
            const double phi = 2 * M_PI * ((trial * (i + 7) * 37) % 720) / 720.0;
            const int j = i + rope / 2;
            C[i * N + i] = cos(phi), C[i * N + j] = -sin(phi), C[j * N + i] = sin(phi), C[j * N + j] = cos(phi);
        }
        best_grid = fmin(best_grid, left_objective(A, B, C, N, COLS));
    }
    printf("procrustes_left, RoPE-restricted: |RP - PR| = %.2g; objective %.6f, best of 2000 grid rotations %.6f, "
           "unrestricted %.6f\n",
           comm, restricted, best_grid, got);
    CHECK(comm < 1e-12, "the RoPE-restricted R does not commute with RoPE: %g", comm);
    CHECK(restricted <= best_grid + 1e-9 && restricted >= got - 1e-9, "the RoPE-restricted R is not the best");
}

/* W[rows, cols] of a tensor as doubles. */
static double *tensor_f64(const struct st_tensor *t)
{
    float *f = malloc((size_t)t->numel * sizeof *f);
    dtype_to_f32(t->dtype, t->data, f, (size_t)t->numel);
    double *d = malloc((size_t)t->numel * sizeof *d);
    for (int64_t i = 0; i < t->numel; i++) d[i] = f[i];
    free(f);
    return d;
}

/* Patched tensor NAME (or the tuned one) as doubles. */
static double *patched_f64(struct tensor_patch *patches, const struct st_archive *tuned, const char *name)
{
    const struct st_tensor *t = st_find(tuned, name);
    const ptrdiff_t i = shgeti(patches, name);
    if (i < 0) return tensor_f64(t);
    double *d = malloc((size_t)t->numel * sizeof *d);
    for (int64_t k = 0; k < t->numel; k++) d[k] = patches[i].value[k];
    return d;
}

/* A perturbed copy of golden NAME ("tuned") and default options restoring from the golden itself. */
struct restore_case {
    char *base, *tuned;
    struct restore_options o;
    struct tensor_patch *patches;
};

static void case_open(struct restore_case *k, const char *name)
{
    k->base = golden(name);
    k->tuned = make_tuned(k->base, DT_F32);
    restore_options_default(&k->o);
    k->o.base_dir = k->base;
    k->patches = NULL;
}

static void case_close(struct restore_case *k)
{
    for (ptrdiff_t i = 0; i < shlen(k->patches); i++) free(k->patches[i].value);
    shfree(k->patches);
    remove_tree(k->tuned);
    free(k->tuned), free(k->base);
}

/* ‖W_Q,hᵀ W_K,g − (same of base)‖ / ‖base's‖ over every head, and ‖new − tuned‖² against ‖base − tuned‖². */
static void routing_kept_position_free(const char *name)
{
    struct restore_case k;
    struct hr_error e;
    case_open(&k, name);
    k.o.method = RESTORE_PROCRUSTES;
    CHECK(restore_compute(k.tuned, &k.o, &k.patches, NULL, &e) == 0, "%s: %s", name, e.msg);
    struct tensor_patch *patches = k.patches;
    struct model_config c;
    struct st_archive ta, ba;
    arch_config_load(k.base, &c, &(const struct architecture *){NULL}, &e);
    st_open_dir(k.tuned, &ta, &e);
    st_open_dir(k.base, &ba, &e);
    const int H = c.num_heads, KV = c.num_kv_heads, d = c.head_dim, hid = c.hidden_size;
    double worst = 0, moved = 0, qk_moved = 0;
    for (int i = 0; i < c.num_layers; i++) {
        if (c.layer_kinds[i] != LAYER_FULL_ATTENTION) continue;
        char qn[128], kn[128];
        snprintf(qn, sizeof qn, "model.layers.%d.self_attn.q_proj.weight", i);
        snprintf(kn, sizeof kn, "model.layers.%d.self_attn.k_proj.weight", i);
        double *Qn = patched_f64(patches, &ta, qn), *Kn = patched_f64(patches, &ta, kn);
        double *Qb = tensor_f64(st_find(&ba, qn)), *Kb = tensor_f64(st_find(&ba, kn));
        double *Qt = tensor_f64(st_find(&ta, qn)), *Kt = tensor_f64(st_find(&ta, kn));
        for (int h = 0; h < H; h++) {
            const int g = h / (H / KV);
            double num = 0, den = 0;
            for (int x = 0; x < hid; x++)
                for (int y = 0; y < hid; y++) {
                    double a = 0, b = 0;
                    for (int r = 0; r < d; r++) {
                        a += Qn[(h * d + r) * hid + x] * Kn[(g * d + r) * hid + y];
                        b += Qb[(h * d + r) * hid + x] * Kb[(g * d + r) * hid + y];
                    }
                    num += (a - b) * (a - b), den += b * b;
                }
            worst = fmax(worst, sqrt(num / den));
        }
        for (int64_t k = 0; k < (int64_t)H * d * hid; k++)
            moved += pow(Qn[k] - Qt[k], 2), qk_moved += pow(Qb[k] - Qt[k], 2);
        for (int64_t k = 0; k < (int64_t)KV * d * hid; k++)
            moved += pow(Kn[k] - Kt[k], 2), qk_moved += pow(Kb[k] - Kt[k], 2);
        free(Qn), free(Kn), free(Qb), free(Kb), free(Qt), free(Kt);
    }
    printf("procrustes (output side), %s: every head's W_Q^T W_K within %.2g of the base's (relative); distance to "
           "the tuned W_Q, W_K %.4f, QK-Restore's %.4f\n",
           name, worst, moved, qk_moved);
    CHECK(worst <= 1e-5, "%s: routing form moved by %g", name, worst);
    CHECK(moved < qk_moved, "%s: procrustes is not closer to the tuned weights than QK-Restore", name);
    st_close_archive(&ta), st_close_archive(&ba), config_free(&c);
    case_close(&k);
}

/* On a RoPE model (no q/k norms), the output-side rotation keeps the attention logits: the whole model's
 * logits equal QK-Restore's (same W_V, W_O and the rest) to float32 rounding, while the input side does not. */
static void logits_kept_rope(const char *name, bool biases)
{
    struct restore_case k;
    struct restore_options qk, out, in;
    struct hr_error e;
    case_open(&k, name);
    const char *tuned = k.tuned;
    qk = k.o;
    qk.with_biases = biases;
    restore_parse_layers("attention", &qk, &e);
    out = qk, out.method = RESTORE_PROCRUSTES;
    in = out, in.side = PROCRUSTES_INPUT;
    int n;
    float *a = logits_restored(tuned, &qk, &n), *b = logits_restored(tuned, &out, &n),
          *c = logits_restored(tuned, &in, &n);
    const double d_out = max_abs_diff(a, b, n), d_in = max_abs_diff(a, c, n);
    printf("procrustes on RoPE layers, %s%s: logits vs QK-Restore's: output side %.2g, input side %.2g (|logit| max "
           "%.2f)\n",
           name, biases ? " (biases rotated)" : "", d_out, d_in, max_abs(a, n));
    CHECK(d_out <= 1e-4, "%s: the output-side rotation changed the logits by %g", name, d_out);
    CHECK(d_in > 100 * d_out, "%s: the input side should change them (%g)", name, d_in);
    free(a), free(b), free(c);
    case_close(&k);
}

/* --parts v: exactly the v_proj of the restored (full attention) layers, copied from base. */
static void parts_v_only(const char *name)
{
    struct restore_case k;
    struct hr_error e;
    case_open(&k, name);
    CHECK(restore_parse_parts("v", &k.o, &e) == 0, "parts v: %s", e.msg);
    CHECK(restore_compute(k.tuned, &k.o, &k.patches, NULL, &e) == 0, "%s: %s", name, e.msg);
    struct tensor_patch *patches = k.patches;
    struct model_config c;
    struct st_archive ba;
    arch_config_load(k.base, &c, &(const struct architecture *){NULL}, &e);
    st_open_dir(k.base, &ba, &e);
    int expected = 0, ok = 0;
    for (int i = 0; i < c.num_layers; i++) {
        if (c.layer_kinds[i] != LAYER_FULL_ATTENTION) continue;
        expected++;
        char vn[128];
        snprintf(vn, sizeof vn, "model.layers.%d.self_attn.v_proj.weight", i);
        const ptrdiff_t at = shgeti(patches, vn);
        if (at < 0) continue;
        double *b = tensor_f64(st_find(&ba, vn));
        bool same = true;
        for (int64_t k = 0; k < st_find(&ba, vn)->numel; k++) same &= patches[at].value[k] == (float)b[k];
        ok += same;
        free(b);
    }
    printf("parts v, %s: %td tensors patched, %d of %d full layers' v_proj equal the base's\n", name, shlen(patches),
           ok, expected);
    CHECK(shlen(patches) == expected && ok == expected, "%s: --parts v patched %td tensors", name, shlen(patches));
    CHECK(restore_parse_parts("q,q", &k.o, &e) != 0 && restore_parse_parts("x", &k.o, &e) != 0, "bad parts accepted");
    st_close_archive(&ba), config_free(&c);
    case_close(&k);
}

/* --procrustes-side input is the earlier rule W = B R* (R* over the stacked [W_Q; W_K]), computed here. */
static void input_side_is_earlier_rule(const char *name)
{
    struct restore_case rc;
    struct hr_error e;
    case_open(&rc, name);
    rc.o.method = RESTORE_PROCRUSTES;
    rc.o.side = PROCRUSTES_INPUT;
    restore_parse_layers("1", &rc.o, &e);
    CHECK(restore_compute(rc.tuned, &rc.o, &rc.patches, NULL, &e) == 0, "%s: %s", name, e.msg);
    struct tensor_patch *patches = rc.patches;
    struct st_archive ta, ba;
    st_open_dir(rc.tuned, &ta, &e);
    st_open_dir(rc.base, &ba, &e);
    const char *qn = "model.layers.1.self_attn.q_proj.weight", *kn = "model.layers.1.self_attn.k_proj.weight";
    const struct st_tensor *q = st_find(&ba, qn), *k = st_find(&ba, kn);
    const int64_t rq = q->shape[0], rk = k->shape[0], cols = q->shape[1], rows = rq + rk;
    double *B = malloc((size_t)(rows * cols) * sizeof *B), *F = malloc((size_t)(rows * cols) * sizeof *F),
           *R = malloc((size_t)(cols * cols) * sizeof *R);
    double *qb = tensor_f64(q), *kb = tensor_f64(k), *qt = tensor_f64(st_find(&ta, qn)),
           *kt = tensor_f64(st_find(&ta, kn));
    memcpy(B, qb, (size_t)(rq * cols) * sizeof *B), memcpy(B + rq * cols, kb, (size_t)(rk * cols) * sizeof *B);
    memcpy(F, qt, (size_t)(rq * cols) * sizeof *F), memcpy(F + rq * cols, kt, (size_t)(rk * cols) * sizeof *F);
    procrustes_rotation(B, F, rows, cols, R, NULL);
    double worst = 0;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < cols; j++) {
            double acc = 0;
            for (int64_t i = 0; i < cols; i++) acc += B[r * cols + i] * R[i * cols + j];
            const float *got = r < rq ? patches[shgeti(patches, qn)].value + r * cols
                                      : patches[shgeti(patches, kn)].value + (r - rq) * cols;
            worst = fmax(worst, fabs(got[j] - acc));
        }
    printf("procrustes-input, %s layer 1: W = B R* within %.2g\n", name, worst);
    CHECK(worst <= 1e-6, "%s: the input side is not W = B R* (%g)", name, worst);
    free(B), free(F), free(R), free(qb), free(kb), free(qt), free(kt);
    st_close_archive(&ta), st_close_archive(&ba);
    case_close(&rc);
}

int main(int argc, char **argv)
{
    diff_measures();
    if (argc < 2) return 2;
    goldens = argv[1];
    procrustes_math();
    const char *models[] = {"qwen3_swa", "qwen3_next", "minimax", "hypenet", "jet_nemotron"};
    for (int i = 0; i < 5; i++) {
        identical_is_noop(models[i], RESTORE_QK, PROCRUSTES_OUTPUT, "all");
        identical_is_noop(models[i], RESTORE_PROCRUSTES, PROCRUSTES_INPUT, "all");
        identical_is_noop(models[i], RESTORE_PROCRUSTES, PROCRUSTES_OUTPUT, "attention");
    }
    hand_swap("qwen3_swa");
    hand_swap("qwen3_next");
    written_equals_patched("qwen3_swa", DT_F32, RESTORE_QK, PROCRUSTES_OUTPUT);
    written_equals_patched("qwen3_next", DT_BF16, RESTORE_PROCRUSTES, PROCRUSTES_INPUT);
    written_equals_patched("qwen3_next", DT_BF16, RESTORE_PROCRUSTES, PROCRUSTES_OUTPUT);
    written_equals_patched("minimax", DT_BF16, RESTORE_QK, PROCRUSTES_OUTPUT);
    written_equals_patched("jet_nemotron", DT_F32, RESTORE_PROCRUSTES, PROCRUSTES_INPUT);
    procrustes_left_math();
    routing_kept_position_free("hypenet");
    logits_kept_rope("minimax", false);
    logits_kept_rope("jet_nemotron", true);
    parts_v_only("qwen3_swa");
    input_side_is_earlier_rule("qwen3_swa");
    errors();
    return test_finish("test_restore");
}
