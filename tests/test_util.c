#define _XOPEN_SOURCE 700
#include "tests/test_util.h"

#include <ftw.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stb_ds.h"

int test_failures = 0;

int test_finish(const char *name)
{
    if (test_failures) {
        fprintf(stderr, "%s: %d check(s) failed\n", name, test_failures);
        return 1;
    }
    printf("%s: all checks passed\n", name);
    return 0;
}

static const void *aligned_copy(struct golden *g, int slot, const struct st_tensor *t)
{
    void *p = malloc(t->nbytes ? t->nbytes : 1);
    memcpy(p, t->data, t->nbytes);
    g->owned[slot] = p;
    return p;
}

int golden_load(const char *path, struct golden *g)
{
    memset(g, 0, sizeof *g);
    struct hr_error e;
    if (st_open_file(path, &g->file, &e) != 0) {
        fprintf(stderr, "%s\n", e.msg);
        return -1;
    }
    const struct st_tensor *in = st_file_find(&g->file, "input_ids"), *lg = st_file_find(&g->file, "logits"),
                           *gen = st_file_find(&g->file, "generated_ids"),
                           *fl = st_file_find(&g->file, "full_logits_last");
    if (!in || !lg || !gen || !fl || in->dtype != DT_I32 || gen->dtype != DT_I32 || lg->dtype != DT_F32 ||
        fl->dtype != DT_F32) {
        fprintf(stderr, "%s: not a golden file (input_ids, logits, generated_ids, full_logits_last)\n", path);
        st_close_file(&g->file);
        return -1;
    }
    g->T = (int)in->shape[0];
    g->G = (int)gen->shape[0];
    g->V = (int)lg->shape[1];
    g->input_ids = aligned_copy(g, 0, in);
    g->logits = aligned_copy(g, 1, lg);
    g->generated_ids = aligned_copy(g, 2, gen);
    g->full_logits_last = aligned_copy(g, 3, fl);
    g->R = g->T;
    const struct st_tensor *rows = st_file_find(&g->file, "rows");
    if (rows) { /* goldens/long: the logits of some prompt rows only */
        if (rows->dtype != DT_I32 || rows->ndim != 1 || rows->shape[0] != lg->shape[0]) {
            fprintf(stderr, "%s: 'rows' must be I32 [%lld], one per logits row\n", path, (long long)lg->shape[0]);
            golden_free(g);
            return -1;
        }
        g->R = (int)rows->shape[0];
        g->rows = aligned_copy(g, 4, rows);
        for (int i = 0; i < g->R; i++)
            if (g->rows[i] < 0 || g->rows[i] >= g->T) {
                fprintf(stderr, "%s: rows[%d] = %d is outside the prompt\n", path, i, g->rows[i]);
                golden_free(g);
                return -1;
            }
    } else if (lg->shape[0] != g->T) {
        fprintf(stderr, "%s: logits has %lld rows for a %d-token prompt and no 'rows'\n", path, (long long)lg->shape[0],
                g->T);
        golden_free(g);
        return -1;
    }
    return 0;
}

const float *golden_row(const struct golden *g, int t)
{
    if (!g->rows) return g->logits + (int64_t)t * g->V;
    for (int i = 0; i < g->R; i++)
        if (g->rows[i] == t) return g->logits + (int64_t)i * g->V;
    return NULL;
}

void golden_free(struct golden *g)
{
    for (int i = 0; i < 5; i++) free(g->owned[i]);
    st_close_file(&g->file);
}

double max_abs_diff(const float *a, const float *b, int64_t n)
{
    double m = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)a[i] - b[i];
        if (d < 0) d = -d;
        if (!(d <= m)) m = d; /* NaN propagates as the max */
    }
    return m;
}

double max_abs(const float *a, int64_t n)
{
    double m = 0;
    for (int64_t i = 0; i < n; i++) m = fabs(a[i]) > m ? fabs(a[i]) : m;
    return m;
}

char *make_temp_dir(const char *tag)
{
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char *p = malloc(strlen(base) + strlen(tag) + 32);
    sprintf(p, "%s/hyrecall-%s-XXXXXX", base, tag);
    if (!mkdtemp(p)) {
        free(p);
        return NULL;
    }
    return p;
}

int copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = in ? fopen(to, "wb") : NULL;
    if (!in || !out) {
        if (in) fclose(in);
        return -1;
    }
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) fwrite(buf, 1, n, out);
    fclose(in);
    return fclose(out);
}

int convert_checkpoint(const char *src_dir, const char *dst_dir, enum dtype round_to, enum dtype store_as)
{
    char path[4096], dst[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", src_dir);
    struct st_file f;
    struct hr_error e;
    if (st_open_file(path, &f, &e) != 0) {
        fprintf(stderr, "%s\n", e.msg);
        return -1;
    }
    int n = (int)arrlen(f.tensors);
    struct st_write_tensor *out = calloc((size_t)n, sizeof *out);
    void **bufs = calloc((size_t)n, sizeof *bufs);
    for (int i = 0; i < n; i++) {
        const struct st_tensor *t = &f.tensors[i];
        out[i].name = t->name;
        out[i].ndim = t->ndim;
        memcpy(out[i].shape, t->shape, sizeof t->shape);
        out[i].dtype = t->dtype;
        out[i].data = t->data;
        if (t->dtype != DT_F32) continue;
        float *tmp = malloc((size_t)t->numel * 4 + 1);
        memcpy(tmp, t->data, (size_t)t->numel * 4);
        uint16_t *h = malloc((size_t)t->numel * 2 + 1);
        for (int64_t j = 0; j < t->numel; j++) h[j] = round_to == DT_BF16 ? f32_to_bf16(tmp[j]) : f32_to_f16(tmp[j]);
        if (store_as == DT_F32) { /* the rounded values, widened back exactly */
            dtype_to_f32(round_to, h, tmp, (size_t)t->numel);
            free(h);
            out[i].data = bufs[i] = tmp;
        } else {
            free(tmp);
            out[i].dtype = round_to;
            out[i].data = bufs[i] = h;
        }
    }
    snprintf(dst, sizeof dst, "%s/model.safetensors", dst_dir);
    int rc = st_write_file(dst, out, n, NULL, false, &e);
    if (rc) fprintf(stderr, "%s\n", e.msg);
    for (int i = 0; i < n; i++) free(bufs[i]);
    free(bufs);
    free(out);
    st_close_file(&f);
    const char *copies[] = {"config.json", "generation_config.json"};
    for (int i = 0; i < 2 && rc == 0; i++) {
        snprintf(path, sizeof path, "%s/%s", src_dir, copies[i]);
        snprintf(dst, sizeof dst, "%s/%s", dst_dir, copies[i]);
        if (access(path, F_OK) == 0) rc = copy_file(path, dst);
    }
    return rc;
}
