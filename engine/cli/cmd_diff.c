/* hyrecall diff A.safetensors B.safetensors: two reference dumps (or any two
 * safetensors files) tensor by tensor, in forward order, to find the first
 * module where an implementation diverges (docs/porting.md). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cli/cli.h"
#include "engine/hyrecall.h"
#include "stb_ds.h"

static const char *HELP =
    "usage: hyrecall diff A.safetensors B.safetensors [--atol X] [--rtol Y]\n\n"
    "Compares the tensors two files share by name (B is the reference), in forward order: embeddings,\n"
    "then per layer the mixer's inputs (q, k, v, log_decay, beta), gate and output, the MLP, the layer's\n"
    "output and state, then model.norm and the logits (names as hyrecall run --dump --dump-layers and\n"
    "tools/dump_reference.py write them). For each: shape, max |A - B|, max |A - B| / max(1, max |B|),\n"
    "and whether every element holds |A - B| <= atol * max(1, max |B|) + rtol * |B| (defaults atol\n"
    "1e-4, rtol 0: the tolerance hyrecall's own tests hold its dumps to). The first tensor that does\n"
    "not is marked: where the two implementations part. Names in one file only are listed, not failed.\n\n"
    "exit codes: 0 every shared tensor agrees, 1 one does not (or the shapes differ, or no name is\n"
    "shared, or a file is unreadable), 2 usage error\n";

struct row {
    const struct st_tensor *a, *b;
    int64_t rank;
};

static int by_rank(const void *x, const void *y)
{
    const struct row *p = x, *q = y;
    if (p->rank != q->rank) return p->rank < q->rank ? -1 : 1;
    return strcmp(p->a->name, q->a->name);
}

static float *as_f32(const struct st_tensor *t)
{
    float *x = malloc((size_t)(t->numel ? t->numel : 1) * sizeof(float));
    if (!x) return NULL;
    if (t->dtype == DT_I32)
        for (int64_t i = 0; i < t->numel; i++) x[i] = (float)((const int32_t *)t->data)[i];
    else
        dtype_to_f32(t->dtype, t->data, x, (size_t)t->numel);
    return x;
}

static void shape_text(const struct st_tensor *t, char *out, size_t n)
{
    int len = snprintf(out, n, "[");
    for (int d = 0; d < t->ndim; d++)
        len += snprintf(out + len, n - (size_t)len, "%s%lld", d ? ", " : "", (long long)t->shape[d]);
    snprintf(out + len, n - (size_t)len, "]");
}

int cmd_diff(int argc, char **argv)
{
    const char *paths[2] = {NULL, NULL};
    double atol = 1e-4, rtol = 0;
    int np = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(HELP, stdout);
            return EXIT_OK;
        } else if (strcmp(a, "--atol") == 0 || strcmp(a, "--rtol") == 0) {
            if (!(v = cli_value("diff", argc, argv, &i))) return EXIT_USAGE;
            char *end;
            const double x = strtod(v, &end);
            if (end == v || *end || !(x >= 0))
                return cli_usage_error("diff", "%s expects a number >= 0, got '%s'", a, v), EXIT_USAGE;
            *(a[2] == 'a' ? &atol : &rtol) = x;
        } else if (a[0] == '-') {
            return cli_unknown_option("diff", a, HELP), EXIT_USAGE;
        } else if (np < 2) {
            paths[np++] = a;
        } else {
            return cli_usage_error("diff", "unexpected argument '%s' (two files)", a), EXIT_USAGE;
        }
    }
    if (np != 2) return cli_usage_error("diff", "two files are required: A.safetensors B.safetensors"), EXIT_USAGE;

    struct hr_error e;
    struct st_file fa = {0}, fb = {0};
    if (st_open_file(paths[0], &fa, &e) || st_open_file(paths[1], &fb, &e)) {
        fprintf(stderr, "hyrecall diff: %s\n", e.msg);
        st_close_file(&fa);
        return EXIT_RUNTIME;
    }
    struct row *rows = NULL;
    int only_a = 0, only_b = 0;
    for (ptrdiff_t i = 0; i < arrlen(fa.tensors); i++) {
        const struct st_tensor *b = st_file_find(&fb, fa.tensors[i].name);
        if (b)
            arrput(rows, ((struct row){&fa.tensors[i], b, tensor_dump_rank(fa.tensors[i].name)}));
        else
            printf("only in %s: %s\n", paths[0], fa.tensors[i].name), only_a++;
    }
    for (ptrdiff_t i = 0; i < arrlen(fb.tensors); i++)
        if (!st_file_find(&fa, fb.tensors[i].name)) printf("only in %s: %s\n", paths[1], fb.tensors[i].name), only_b++;
    if (arrlen(rows)) qsort(rows, (size_t)arrlen(rows), sizeof *rows, by_rank);

    int rc = arrlen(rows) ? EXIT_OK : EXIT_RUNTIME, bad = 0;
    const char *first = NULL;
    if (arrlen(rows))
        printf("%-44s %-16s %12s %12s  %s\n", "tensor", "shape", "max |A-B|", "relative", "within tolerance");
    for (ptrdiff_t i = 0; i < arrlen(rows); i++) {
        const struct st_tensor *a = rows[i].a, *b = rows[i].b;
        char shape[96];
        shape_text(b, shape, sizeof shape);
        bool same_shape = a->ndim == b->ndim && a->numel == b->numel;
        for (int d = 0; same_shape && d < a->ndim; d++) same_shape = a->shape[d] == b->shape[d];
        if (!same_shape) {
            char other[96];
            shape_text(a, other, sizeof other);
            printf("%-44s %-16s shapes differ: %s in %s\n", a->name, shape, other, paths[0]);
            if (!first) first = a->name;
            bad++;
            continue;
        }
        float *x = as_f32(a), *y = as_f32(b);
        if (!x || !y) {
            free(x), free(y);
            fprintf(stderr, "hyrecall diff: out of memory\n");
            rc = EXIT_RUNTIME;
            break;
        }
        double scale = 1, worst = 0;
        for (int64_t k = 0; k < b->numel; k++) scale = fmax(scale, fabs((double)y[k]));
        bool ok = true;
        for (int64_t k = 0; k < b->numel; k++) {
            const double d = fabs((double)x[k] - (double)y[k]);
            if (!(d <= atol * scale + rtol * fabs((double)y[k]))) ok = false; /* NaN fails */
            worst = isnan(d) || d > worst ? d : worst;
        }
        if (!ok && !first) first = a->name;
        bad += !ok;
        printf("%-44s %-16s %12.3e %12.3e  %s%s\n", a->name, shape, worst, worst / scale, ok ? "yes" : "NO",
               !ok && first == a->name ? "   <- first divergence" : "");
        free(x), free(y);
    }
    if (rc == EXIT_OK) {
        printf("%d tensors compared, %d outside tolerance (atol %g, rtol %g); %d only in A, %d only in B\n",
               (int)arrlen(rows), bad, atol, rtol, only_a, only_b);
        if (first) printf("first divergence: %s\n", first);
        if (bad) rc = EXIT_RUNTIME;
    } else if (!arrlen(rows)) {
        fprintf(stderr, "hyrecall diff: %s and %s share no tensor name\n", paths[0], paths[1]);
    }
    arrfree(rows);
    st_close_file(&fa);
    st_close_file(&fb);
    return rc;
}
