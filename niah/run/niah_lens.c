#include "niah/run/niah_lens.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/files.h"
#include "engine/hyrecall.h"

#define RECENT 1024 /* "recent": the last 1K positions */
#define BUCKETS 40  /* distance buckets: enough for 2^38 tokens */

int niah_lens_begin(struct lens *l, const struct model *m, int64_t P)
{
    memset(l, 0, sizeof *l);
    const int L = m->cfg.num_layers;
    l->position = P;
    l->num_layers = L;
    l->pass = 1;
    l->heads = calloc((size_t)L, sizeof *l->heads);
    l->attn = calloc((size_t)L, sizeof *l->attn);
    l->contrib = calloc((size_t)L, sizeof *l->contrib);
    l->q_at = calloc((size_t)L, sizeof *l->q_at);
    if (!l->heads || !l->attn || !l->contrib || !l->q_at) return -1;
    for (int i = 0; i < L; i++)
        if (m->layers[i].mixer == MIXER_SOFTMAX_ATTENTION) {
            l->heads[i] = m->cfg.num_heads;
            if (!(l->attn[i] = calloc((size_t)(l->heads[i] * (P + 1)), sizeof(float)))) return -1;
        }
    return 0;
}

static int bucket_of(int64_t distance)
{
    int b = 0;
    while (distance > 0) distance >>= 1, b++; /* 1 + floor(log2 d) for d ≥ 1 */
    return b < BUCKETS ? b : BUCKETS - 1;
}

/* Token index range [*t0, *t1) covering bytes [b0, b1) of the prompt, given each
 * token's first byte (starts[n] = total). */
static void token_span(const int64_t *starts, int n, int64_t b0, int64_t b1, int64_t *t0, int64_t *t1)
{
    *t0 = *t1 = 0;
    for (int j = 0; j < n; j++) {
        if (starts[j + 1] <= b0) *t0 = j + 1;
        if (starts[j] < b1) *t1 = j + 1;
    }
}

/* The needle carrying answers[0] is "One of the special magic X for KEY is: VALUE."
 * at s->needle_at; finds its key and value token spans. */
static int needle_spans(const struct tokenizer *tok, const int32_t *ids, int n, const struct niah_sample *s,
                        int64_t span[4])
{
    static const char lead[] = "One of the special magic ";
    const char *needle = s->prompt + s->needle_at;
    if (s->num_answers < 1 || strncmp(needle, lead, sizeof lead - 1) != 0) return -1;
    const char *for_ = strstr(needle, " for "), *is = for_ ? strstr(for_, " is: ") : NULL;
    if (!is || strncmp(is + 5, s->answers[0], strlen(s->answers[0])) != 0) return -1;
    int64_t *starts = malloc(((size_t)n + 1) * sizeof *starts);
    starts[0] = 0;
    struct hr_error e;
    for (int j = 0; j < n; j++) {
        char *text;
        size_t len;
        if (tok_decode(tok, ids + j, 1, &text, &len, &e)) {
            free(starts);
            return -1;
        }
        free(text);
        starts[j + 1] = starts[j] + (int64_t)len;
    }
    int rc = -1;
    if (starts[n] == (int64_t)strlen(s->prompt)) { /* the tokens spell the prompt byte for byte */
        const int64_t key0 = for_ + 5 - s->prompt, key1 = is - s->prompt, val0 = key1 + 5,
                      val1 = val0 + (int64_t)strlen(s->answers[0]);
        token_span(starts, n, key0, key1, &span[0], &span[1]);
        token_span(starts, n, val0, val1, &span[2], &span[3]);
        rc = 0;
    }
    free(starts);
    return rc;
}

static double round6(double x)
{
    return round(x * 1e6) / 1e6;
}

cJSON *niah_lens_measure(const struct lens *l, const struct tokenizer *tok, const int32_t *ids, int n,
                         const struct niah_sample *s)
{
    const int64_t P = l->position;
    int64_t span[4];
    const bool have_needle = needle_spans(tok, ids, n, s, span) == 0;
    cJSON *o = cJSON_CreateObject();
    cJSON *layers = cJSON_AddArrayToObject(o, "layers"), *value = cJSON_CreateArray(), *key = cJSON_CreateArray(),
          *recent = cJSON_AddArrayToObject(o, "recent"), *profile = cJSON_AddArrayToObject(o, "profile");
    if (have_needle) {
        cJSON_AddItemToObject(o, "key", key);
        cJSON_AddItemToObject(o, "value", value);
        cJSON *k = cJSON_AddArrayToObject(o, "key_tokens"), *v = cJSON_AddArrayToObject(o, "value_tokens");
        cJSON_AddItemToArray(k, cJSON_CreateNumber((double)span[0]));
        cJSON_AddItemToArray(k, cJSON_CreateNumber((double)span[1]));
        cJSON_AddItemToArray(v, cJSON_CreateNumber((double)span[2]));
        cJSON_AddItemToArray(v, cJSON_CreateNumber((double)span[3]));
    }
    for (int i = 0; i < l->num_layers; i++) {
        if (!l->attn[i]) continue;
        cJSON_AddItemToArray(layers, cJSON_CreateNumber(i));
        cJSON *kv = cJSON_CreateArray(), *vv = cJSON_CreateArray(), *rv = cJSON_CreateArray(),
              *pv = cJSON_CreateArray();
        double prof[BUCKETS] = {0};
        const int nb = bucket_of(P) + 1;
        for (int h = 0; h < l->heads[i]; h++) {
            const float *row = l->attn[i] + (int64_t)h * (P + 1);
            double mk = 0, mv = 0, mr = 0;
            for (int64_t j = 0; j <= P; j++) {
                if (have_needle && j >= span[0] && j < span[1]) mk += row[j];
                if (have_needle && j >= span[2] && j < span[3]) mv += row[j];
                if (j > P - RECENT) mr += row[j];
                prof[bucket_of(P - j)] += row[j] / l->heads[i];
            }
            cJSON_AddItemToArray(kv, cJSON_CreateNumber(round6(mk)));
            cJSON_AddItemToArray(vv, cJSON_CreateNumber(round6(mv)));
            cJSON_AddItemToArray(rv, cJSON_CreateNumber(round6(mr)));
        }
        for (int b = 0; b < nb; b++) cJSON_AddItemToArray(pv, cJSON_CreateNumber(round6(prof[b])));
        cJSON_AddItemToArray(key, kv);
        cJSON_AddItemToArray(value, vv);
        cJSON_AddItemToArray(recent, rv);
        cJSON_AddItemToArray(profile, pv);
    }
    if (!have_needle) cJSON_Delete(key), cJSON_Delete(value);
    return o;
}

/* ---- reports ------------------------------------------------------------------ */

#define MAX_VARIANTS 8
#define MAX_LAYERS 256
#define MAX_HEADS 256

struct lens_cell { /* one (variant, task, length, layer, head) */
    char variant[32], task[32];
    int64_t length;
    int layer, head, count, needle_count;
    double value, key, recent;
};

struct lens_totals {
    char variants[MAX_VARIANTS][32];
    int nv;
    struct lens_cell *cells; /* stb-free growable array */
    int ncells, cap;
    /* per variant: profile sums over samples and softmax layers, and counts */
    double profile[MAX_VARIANTS][BUCKETS];
    int profile_count[MAX_VARIANTS];
    int max_bucket;
};

static struct lens_cell *cell_for(struct lens_totals *t, const char *variant, const char *task, int64_t length,
                                  int layer, int head)
{
    for (int i = t->ncells - 1; i >= 0; i--) {
        struct lens_cell *c = &t->cells[i];
        if (c->layer == layer && c->head == head && c->length == length && !strcmp(c->task, task) &&
            !strcmp(c->variant, variant))
            return c;
    }
    if (t->ncells == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 256;
        t->cells = realloc(t->cells, (size_t)t->cap * sizeof *t->cells);
    }
    struct lens_cell *c = &t->cells[t->ncells++];
    memset(c, 0, sizeof *c);
    snprintf(c->variant, sizeof c->variant, "%s", variant);
    snprintf(c->task, sizeof c->task, "%s", task);
    c->length = length, c->layer = layer, c->head = head;
    return c;
}

static int variant_index(struct lens_totals *t, const char *name)
{
    for (int i = 0; i < t->nv; i++)
        if (!strcmp(t->variants[i], name)) return i;
    if (t->nv == MAX_VARIANTS) return -1;
    snprintf(t->variants[t->nv], 32, "%s", name);
    return t->nv++;
}

static double item_number(const cJSON *a, int i)
{
    return cJSON_GetNumberValue(cJSON_GetArrayItem(a, i));
}

static void add_line(struct lens_totals *t, const cJSON *line)
{
    const cJSON *lens = cJSON_GetObjectItemCaseSensitive(line, "lens");
    const char *variant = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(line, "variant"));
    const char *task = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(line, "task"));
    const cJSON *length = cJSON_GetObjectItemCaseSensitive(line, "length");
    if (!cJSON_IsObject(lens) || !variant || !task || !cJSON_IsNumber(length)) return;
    const int vi = variant_index(t, variant);
    const cJSON *layers = cJSON_GetObjectItemCaseSensitive(lens, "layers"),
                *value = cJSON_GetObjectItemCaseSensitive(lens, "value"),
                *key = cJSON_GetObjectItemCaseSensitive(lens, "key"),
                *recent = cJSON_GetObjectItemCaseSensitive(lens, "recent"),
                *profile = cJSON_GetObjectItemCaseSensitive(lens, "profile");
    if (vi < 0 || !cJSON_IsArray(layers) || !cJSON_IsArray(recent) || !cJSON_IsArray(profile)) return;
    for (int li = 0; li < cJSON_GetArraySize(layers); li++) {
        const int layer = (int)item_number(layers, li);
        const cJSON *r = cJSON_GetArrayItem(recent, li), *v = value ? cJSON_GetArrayItem(value, li) : NULL,
                    *k = key ? cJSON_GetArrayItem(key, li) : NULL, *p = cJSON_GetArrayItem(profile, li);
        for (int h = 0; h < cJSON_GetArraySize(r) && h < MAX_HEADS; h++) {
            struct lens_cell *c = cell_for(t, variant, task, (int64_t)length->valuedouble, layer, h);
            c->count++;
            c->recent += item_number(r, h);
            if (v && k) c->needle_count++, c->value += item_number(v, h), c->key += item_number(k, h);
        }
        for (int b = 0; b < cJSON_GetArraySize(p) && b < BUCKETS; b++) {
            t->profile[vi][b] += item_number(p, b);
            if (b > t->max_bucket) t->max_bucket = b;
        }
        t->profile_count[vi]++;
    }
}

static int write_csv(const char *dir, const struct lens_totals *t, struct hr_error *e)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/lens_summary.csv", dir);
    FILE *f = fopen(path, "w");
    if (!f) return hr_fail(e, "%s: cannot create: %s", path, strerror(errno));
    fprintf(f, "variant,task,length,layer,head,samples,needle_value_mass,needle_key_mass,last_1k_mass\n");
    for (int i = 0; i < t->ncells; i++) {
        const struct lens_cell *c = &t->cells[i];
        fprintf(f, "%s,%s,%lld,%d,%d,%d,", c->variant, c->task, (long long)c->length, c->layer, c->head, c->count);
        if (c->needle_count)
            fprintf(f, "%.6f,%.6f,", c->value / c->needle_count, c->key / c->needle_count);
        else
            fprintf(f, ",,");
        fprintf(f, "%.6f\n", c->recent / c->count);
    }
    return fclose(f) ? hr_fail(e, "%s: write failed", path) : 0;
}

/* Means over samples, tasks and lengths of one (variant, layer, head). */
static void pooled(const struct lens_totals *t, const char *variant, int layer, int head, double *value, double *key,
                   double *recent)
{
    double v = 0, k = 0, r = 0;
    int nn = 0, n = 0;
    for (int i = 0; i < t->ncells; i++) {
        const struct lens_cell *c = &t->cells[i];
        if (c->layer != layer || (head >= 0 && c->head != head) || strcmp(c->variant, variant)) continue;
        v += c->value, k += c->key, nn += c->needle_count, r += c->recent, n += c->count;
    }
    *value = nn ? v / nn : NAN, *key = nn ? k / nn : NAN, *recent = n ? r / n : NAN;
}

static void ramp(double x, double top, char out[8]) /* 0 → white, top → deep blue */
{
    const double f = isnan(x) || top <= 0 ? 0 : fmin(1, fmax(0, x / top));
    snprintf(out, 8, "#%02X%02X%02X", (int)lround(255 - f * (255 - 0x08)), (int)lround(255 - f * (255 - 0x30)),
             (int)lround(255 - f * (255 - 0x6B)));
}

static int write_heads_svg(const char *dir, const struct lens_totals *t, const int *layers, int nl, int nh,
                           struct hr_error *e)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/lens_heads.svg", dir);
    FILE *f = fopen(path, "w");
    if (!f) return hr_fail(e, "%s: cannot create: %s", path, strerror(errno));
    const int cw = 46, ch = 30, left = 80, top = 74, gap = 40, pw = nh * cw;
    double highest = 0; /* the colour scale's top: the largest cell of all panels */
    for (int v = 0; v < t->nv; v++)
        for (int li = 0; li < nl; li++)
            for (int h = 0; h < nh; h++) {
                double val, key, rec;
                pooled(t, t->variants[v], layers[li], h, &val, &key, &rec);
                if (!isnan(val)) highest = fmax(highest, val);
            }
    int W = left + t->nv * pw + (t->nv - 1) * gap + 20, H = top + nl * ch + 56;
    if (W < 640) W = 640;
    fprintf(f,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
            "height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n"
            "  <rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n"
            "  <text x=\"%d\" y=\"24\" font-size=\"15\" font-weight=\"bold\">Attention on the needle's value "
            "from the answer position</text>\n"
            "  <text x=\"%d\" y=\"42\">mean mass per softmax layer and head, over all samples (0 white, "
            "%.2f darkest)</text>\n",
            W, H, W, H, W, H, left, left, highest);
    for (int li = 0; li < nl; li++)
        fprintf(f, "  <text x=\"%d\" y=\"%d\" text-anchor=\"end\">layer %d</text>\n", left - 8,
                top + li * ch + ch / 2 + 4, layers[li]);
    for (int v = 0; v < t->nv; v++) {
        const int x0 = left + v * (pw + gap);
        fprintf(f, "  <text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-weight=\"bold\">%s</text>\n", x0 + pw / 2,
                top - 10, t->variants[v]);
        for (int li = 0; li < nl; li++)
            for (int h = 0; h < nh; h++) {
                double val, key, rec;
                pooled(t, t->variants[v], layers[li], h, &val, &key, &rec);
                char c[8];
                ramp(val, highest, c);
                const int x = x0 + h * cw, y = top + li * ch;
                fprintf(f, "  <rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\" stroke=\"#cccccc\"/>\n", x,
                        y, cw, ch, isnan(val) ? "#eeeeee" : c);
                if (!isnan(val))
                    fprintf(f, "  <text x=\"%d\" y=\"%d\" text-anchor=\"middle\" fill=\"%s\">%.2f</text>\n", x + cw / 2,
                            y + ch / 2 + 4, val > 0.55 * highest ? "#ffffff" : "#000000", val);
            }
        for (int h = 0; h < nh; h++)
            fprintf(f, "  <text x=\"%d\" y=\"%d\" text-anchor=\"middle\">h%d</text>\n", x0 + h * cw + cw / 2,
                    top + nl * ch + 18, h);
    }
    fprintf(f, "</svg>\n");
    return fclose(f) ? hr_fail(e, "%s: write failed", path) : 0;
}

static int write_profile_svg(const char *dir, const struct lens_totals *t, struct hr_error *e)
{
    static const char *colours[MAX_VARIANTS] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd",
                                                "#ff7f0e", "#8c564b", "#e377c2", "#17becf"};
    char path[4200];
    snprintf(path, sizeof path, "%s/distance_profile.svg", dir);
    FILE *f = fopen(path, "w");
    if (!f) return hr_fail(e, "%s: cannot create: %s", path, strerror(errno));
    const int nb = t->max_bucket + 1, left = 70, top = 50, pw = 520, ph = 260, W = left + pw + 170, H = top + ph + 60;
    double ymax = 0;
    for (int v = 0; v < t->nv; v++)
        for (int b = 0; b < nb; b++)
            if (t->profile_count[v]) ymax = fmax(ymax, t->profile[v][b] / t->profile_count[v]);
    /* Four ticks at a round step (0.05, 0.1, 0.25, ...: never 0.075). */
    static const double steps[] = {0.005, 0.01, 0.02, 0.025, 0.05, 0.1, 0.2, 0.25};
    double step = 0.25;
    for (int i = 7; i >= 0; i--)
        if (4 * steps[i] >= ymax) step = steps[i];
    ymax = ymax > 0 ? 4 * step : 1;
    fprintf(f,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
            "height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n"
            "  <rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n"
            "  <text x=\"%d\" y=\"24\" font-size=\"15\" font-weight=\"bold\">Where the answer position looks: "
            "attention mass by distance</text>\n"
            "  <rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#888888\"/>\n",
            W, H, W, H, W, H, left, left, top, pw, ph);
    const double dx = nb > 1 ? (double)pw / (nb - 1) : pw;
    for (int b = 0; b < nb; b += (nb > 16 ? 2 : 1))
        fprintf(f, "  <text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%lld</text>\n", left + b * dx, top + ph + 18,
                b == 0 ? 0LL : 1LL << (b - 1));
    fprintf(f,
            "  <text x=\"%d\" y=\"%d\" text-anchor=\"middle\">distance P − j (tokens, log scale: bucket "
            "[2^(b−1), 2^b))</text>\n",
            left + pw / 2, top + ph + 40);
    for (int k = 0; k <= 4; k++)
        fprintf(f, "  <text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n", left - 6, top + ph - k * ph / 4.0 + 4,
                ymax * k / 4);
    fprintf(f,
            "  <text x=\"16\" y=\"%d\" transform=\"rotate(-90 16 %d)\" text-anchor=\"middle\">mean attention "
            "mass (softmax layers, heads)</text>\n",
            top + ph / 2, top + ph / 2);
    for (int v = 0; v < t->nv; v++) {
        if (!t->profile_count[v]) continue;
        fprintf(f, "  <polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", colours[v]);
        for (int b = 0; b < nb; b++)
            fprintf(f, "%.1f,%.1f ", left + b * dx, top + ph - ph * (t->profile[v][b] / t->profile_count[v]) / ymax);
        fprintf(f,
                "\"/>\n  <rect x=\"%d\" y=\"%d\" width=\"14\" height=\"4\" fill=\"%s\"/>\n"
                "  <text x=\"%d\" y=\"%d\">%s</text>\n",
                left + pw + 16, top + 10 + v * 20, colours[v], left + pw + 36, top + 15 + v * 20, t->variants[v]);
    }
    fprintf(f, "</svg>\n");
    return fclose(f) ? hr_fail(e, "%s: write failed", path) : 0;
}

static int cmp_int(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

int niah_lens_write_reports(const char *dir, const char *predictions_path, struct hr_error *e)
{
    char *predictions = read_text_file(predictions_path, NULL, e);
    if (!predictions) return -1;
    struct lens_totals *t = calloc(1, sizeof *t);
    for (const char *line = predictions; line && *line;) {
        const char *end = strchr(line, '\n');
        const size_t len = end ? (size_t)(end - line) : strlen(line);
        cJSON *o = cJSON_ParseWithLength(line, len);
        if (o) add_line(t, o);
        cJSON_Delete(o);
        line = end ? end + 1 : NULL;
    }
    int rc = 0;
    if (t->ncells) {
        int layers[MAX_LAYERS], nl = 0, nh = 0;
        for (int i = 0; i < t->ncells; i++) {
            bool seen = false;
            for (int k = 0; k < nl; k++) seen |= layers[k] == t->cells[i].layer;
            if (!seen && nl < MAX_LAYERS) layers[nl++] = t->cells[i].layer;
            if (t->cells[i].head + 1 > nh) nh = t->cells[i].head + 1;
        }
        qsort(layers, (size_t)nl, sizeof *layers, cmp_int);
        printf("\nrouting lens at the answer position (mean over samples and heads):\n%-16s %6s %12s %12s %12s\n",
               "variant", "layer", "needle value", "needle key", "last 1K");
        for (int v = 0; v < t->nv; v++)
            for (int li = 0; li < nl; li++) {
                double val, key, rec;
                pooled(t, t->variants[v], layers[li], -1, &val, &key, &rec);
                printf("%-16s %6d %12.3f %12.3f %12.3f\n", t->variants[v], layers[li], val, key, rec);
            }
        rc = write_csv(dir, t, e) || write_heads_svg(dir, t, layers, nl, nh, e) || write_profile_svg(dir, t, e);
    }
    free(t->cells);
    free(t);
    free(predictions);
    return rc;
}
