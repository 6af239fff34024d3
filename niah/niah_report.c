#include "niah/niah_report.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "niah/niah_score.h"

double niah_depth_bucket(double depth, bool grid)
{
    if (depth < 0) return NIAH_UNKNOWN; /* not recorded (RULER's own files): a row of its own */
    if (grid) return depth;
    double b = floor(depth / 10.0) * 10.0;
    return b > 90 ? 90 : b < 0 ? 0 : b;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Distinct values, sorted. */
static int distinct_d(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    int k = 0;
    for (int i = 0; i < n; i++)
        if (!k || v[k - 1] != v[i]) v[k++] = v[i];
    return k;
}
static int distinct_i(int64_t *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_i64);
    int k = 0;
    for (int i = 0; i < n; i++)
        if (!k || v[k - 1] != v[i]) v[k++] = v[i];
    return k;
}

static void colour(double score, char out[8])
{
    /* Linear ramp red (0) -> yellow (50) -> green (100). */
    const int stops[3][3] = {{0xF0, 0x49, 0x6E}, {0xEB, 0xB8, 0x39}, {0x0C, 0xD7, 0x9F}};
    double t = score / 50.0;
    int seg = t >= 1 ? 1 : 0;
    double f = t - seg;
    if (f > 1) f = 1;
    int rgb[3];
    for (int c = 0; c < 3; c++) rgb[c] = (int)lround(stops[seg][c] + f * (stops[seg + 1][c] - stops[seg][c]));
    snprintf(out, 8, "#%02X%02X%02X", rgb[0], rgb[1], rgb[2]);
}

static void length_label(int64_t len, char *out, size_t n)
{
    if (len < 0)
        snprintf(out, n, "?");
    else if (len % 1024 == 0)
        snprintf(out, n, "%lldK", (long long)(len / 1024));
    else
        snprintf(out, n, "%lld", (long long)len);
}

/* XML text: only &, < and > need escaping here (titles are task names). */
static void xml_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '&')
            fputs("&amp;", f);
        else if (*s == '<')
            fputs("&lt;", f);
        else if (*s == '>')
            fputs("&gt;", f);
        else
            fputc(*s, f);
    }
}

int niah_write_svg(const char *path, const char *title, const char *subtitle, const char *const *panels, int np,
                   const double *depths, int nd, const int64_t *lengths, const double *tokens, int nl,
                   const double *scores, const int *counts, struct hr_error *e)
{
    FILE *f = fopen(path, "w");
    if (!f) return hr_fail(e, "%s: cannot create: %s", path, strerror(errno));
    const int cw = 72, ch = 34, left = 90, top = 84, gap = 40, panel_w = nl * cw;
    const int axis_y = top + nd * ch, legend_y = axis_y + 62, H = legend_y + 44;
    int W = left + np * panel_w + (np - 1) * gap + 24;
    /* Room for the title lines: ~8.6 px a character at 15 px bold, ~6.6 at 12 px. */
    const int title_w = left + (int)(8.6 * (double)strlen(title)) + 24,
              subtitle_w = left + (int)(6.6 * (double)strlen(subtitle)) + 24;
    if (W < title_w) W = title_w;
    if (W < subtitle_w) W = subtitle_w;
    if (W < left + 300) W = left + 300; /* the legend */
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
            "font-family=\"sans-serif\" font-size=\"12\">\n",
            W, H, W, H);
    fprintf(f, "  <defs><linearGradient id=\"ramp\"><stop offset=\"0\" stop-color=\"#F0496E\"/>"
               "<stop offset=\"0.5\" stop-color=\"#EBB839\"/><stop offset=\"1\" stop-color=\"#0CD79F\"/>"
               "</linearGradient></defs>\n");
    fprintf(f, "  <rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n", W, H);
    fprintf(f, "  <text x=\"%d\" y=\"24\" font-size=\"15\" font-weight=\"bold\">", left);
    xml_text(f, title);
    fprintf(f, "</text>\n  <text x=\"%d\" y=\"42\" fill=\"#555555\">", left);
    xml_text(f, subtitle);
    fprintf(f, "</text>\n");
    for (int d = 0; d < nd; d++)
        if (depths[d] < 0)
            fprintf(f, "  <text x=\"%d\" y=\"%d\" text-anchor=\"end\">?</text>\n", left - 8, top + d * ch + ch / 2 + 4);
        else
            fprintf(f, "  <text x=\"%d\" y=\"%d\" text-anchor=\"end\">%g%%</text>\n", left - 8,
                    top + d * ch + ch / 2 + 4, depths[d]);
    for (int p = 0; p < np; p++) {
        const int x0 = left + p * (panel_w + gap);
        if (np > 1 || (panels[p] && strcmp(panels[p], "model") != 0)) {
            fprintf(f, "  <text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-weight=\"bold\">", x0 + panel_w / 2,
                    top - 10);
            xml_text(f, panels[p]);
            fprintf(f, "</text>\n");
        }
        for (int d = 0; d < nd; d++)
            for (int l = 0; l < nl; l++) {
                const size_t at = ((size_t)p * nd + d) * nl + l;
                const double sc = scores[at];
                const int x = x0 + l * cw, y = top + d * ch;
                if (isnan(sc)) {
                    fprintf(f,
                            "  <rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#eeeeee\" "
                            "stroke=\"#ffffff\"/>\n",
                            x, y, cw, ch);
                    continue;
                }
                char c[8];
                colour(sc, c);
                fprintf(f, "  <rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\" stroke=\"#ffffff\"/>\n", x,
                        y, cw, ch, c);
                /* The score, and under it how many samples it averages (one sample reads 0 or 100). */
                fprintf(f, "  <text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%.1f</text>\n", x + cw / 2, y + 15, sc);
                fprintf(f, "  <text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"9\">n=%d</text>\n", x + cw / 2,
                        y + 28, counts[at]);
            }
        for (int l = 0; l < nl; l++) {
            char lab[32];
            length_label(lengths[l], lab, sizeof lab);
            fprintf(f, "  <text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", x0 + l * cw + cw / 2,
                    axis_y + 16, lab);
            if (tokens[l] > 0) /* what the prompts of that column really hold */
                fprintf(f,
                        "  <text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"9\" fill=\"#555555\">"
                        "%.0f tok</text>\n",
                        x0 + l * cw + cw / 2, axis_y + 28, tokens[l]);
        }
    }
    fprintf(f, "  <text x=\"%d\" y=\"%d\" text-anchor=\"middle\">context length (target; mean prompt tokens)</text>\n",
            left + (np * panel_w + (np - 1) * gap) / 2, axis_y + 46);
    fprintf(f, "  <text x=\"16\" y=\"%d\" transform=\"rotate(-90 16 %d)\" text-anchor=\"middle\">needle depth</text>\n",
            top + nd * ch / 2, top + nd * ch / 2);
    /* The colour scale. */
    fprintf(f, "  <rect x=\"%d\" y=\"%d\" width=\"200\" height=\"10\" fill=\"url(#ramp)\"/>\n", left, legend_y);
    for (int v = 0; v <= 100; v += 50)
        fprintf(f, "  <text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"10\">%d</text>\n", left + 2 * v,
                legend_y + 24, v);
    fprintf(f, "  <text x=\"%d\" y=\"%d\" font-size=\"10\">score (%%); grey: no samples</text>\n", left + 212,
            legend_y + 9);
    fprintf(f, "</svg>\n");
    if (fclose(f) != 0) return hr_fail(e, "%s: write failed", path);
    return 0;
}

/* Python's repr of a float that is already rounded to 2 decimals: the
 * shortest fixed form that reads back to it, with at least one decimal
 * (100.0, 97.5, 33.33), as pandas writes it. */
static void py_float_repr(double x, char *out, size_t n)
{
    for (int p = 1; p <= 17; p++) {
        snprintf(out, n, "%.*f", p, x);
        if (strtod(out, NULL) == x) return;
    }
}

struct cell {
    double sum, tokens;
    int count, nulls, with_tokens;
};

int niah_write_reports(const char *dir, const struct niah_result *r, int n, bool grid, const cJSON *meta,
                       struct hr_error *e)
{
    char path[4096];
    /* Variants and tasks in order of first appearance; lengths and depths sorted. */
    const char *variants[16], *tasks[16];
    int nv = 0, nt = 0;
    int64_t *lengths = malloc((size_t)(n ? n : 1) * sizeof *lengths);
    double *depths = malloc((size_t)(n ? n : 1) * sizeof *depths);
    for (int i = 0; i < n; i++) {
        bool seen = false;
        for (int t = 0; t < nt; t++) seen |= strcmp(tasks[t], r[i].task) == 0;
        if (!seen && nt == 16) {
            free(lengths), free(depths);
            return hr_fail(e, "%s: more than 16 different tasks to report", dir);
        }
        if (!seen) tasks[nt++] = r[i].task;
        seen = false;
        for (int v = 0; v < nv; v++) seen |= strcmp(variants[v], r[i].variant) == 0;
        if (!seen && nv == 16) {
            free(lengths), free(depths);
            return hr_fail(e, "%s: more than 16 different variants to report", dir);
        }
        if (!seen) variants[nv++] = r[i].variant;
        lengths[i] = r[i].length;
        depths[i] = niah_depth_bucket(r[i].depth, grid);
    }
    const int nl = distinct_i(lengths, n), nd = distinct_d(depths, n);
    /* cells[v][t][l][d], with d == nd the "all depths" total */
#define CELL(v, t, l, d) cells[(((size_t)(v)*nt + (t)) * nl + (l)) * (nd + 1) + (d)]
    struct cell *cells = calloc((size_t)nv * nt * nl * (nd + 1) + 1, sizeof *cells);
    for (int i = 0; i < n; i++) {
        int v = 0, t = 0, l = 0, d = 0;
        while (strcmp(variants[v], r[i].variant) != 0) v++;
        while (strcmp(tasks[t], r[i].task) != 0) t++;
        while (lengths[l] != r[i].length) l++;
        while (depths[d] != niah_depth_bucket(r[i].depth, grid)) d++;
        struct cell *c = &CELL(v, t, l, d), *all = &CELL(v, t, l, nd);
        c->sum += r[i].score, c->count++, c->nulls += r[i].null;
        all->sum += r[i].score, all->count++, all->nulls += r[i].null;
        if (r[i].n_tokens > 0)
            c->tokens += r[i].n_tokens, c->with_tokens++, all->tokens += r[i].n_tokens, all->with_tokens++;
    }
    snprintf(path, sizeof path, "%s/summary.csv", dir);
    FILE *csv = fopen(path, "w");
    cJSON *json = cJSON_CreateObject();
    if (meta) cJSON_AddItemToObject(json, "meta", cJSON_Duplicate(meta, true));
    cJSON *rows = cJSON_AddArrayToObject(json, "results");
    int rc = 0;
    if (!csv) {
        rc = hr_fail(e, "%s: cannot create: %s", path, strerror(errno));
        goto out;
    }
    fprintf(csv, "variant,task,length,depth,samples,score,nulls,tokens\n");
    printf("%-16s %-18s", "variant", "task");
    for (int l = 0; l < nl; l++) {
        char lab[32];
        length_label(lengths[l], lab, sizeof lab);
        printf(" %8s", lab);
    }
    printf("\n");
    for (int t = 0; t < nt; t++)
        for (int v = 0; v < nv; v++) {
            printf("%-16s %-18s", variants[v], tasks[t]);
            for (int l = 0; l < nl; l++)
                for (int d = 0; d <= nd; d++) {
                    const struct cell *c = &CELL(v, t, l, d);
                    if (!c->count) {
                        if (d == nd) printf(" %8s", "-");
                        continue;
                    }
                    const double score = niah_round2(100.0 * c->sum / c->count);
                    char depth[32];
                    if (d == nd)
                        snprintf(depth, sizeof depth, "all");
                    else if (depths[d] < 0)
                        snprintf(depth, sizeof depth, "unknown");
                    else
                        snprintf(depth, sizeof depth, "%g", depths[d]);
                    char length[32] = "unknown";
                    if (lengths[l] >= 0) snprintf(length, sizeof length, "%lld", (long long)lengths[l]);
                    /* tokens: the prompts' mean token count (a "1K" cell of an essay task holds fewer:
                     * RULER sizes the haystack in steps), empty when the predictions do not say */
                    char tokens[32] = "";
                    if (c->with_tokens) snprintf(tokens, sizeof tokens, "%.0f", c->tokens / c->with_tokens);
                    fprintf(csv, "%s,%s,%s,%s,%d,%.2f,%d,%s\n", variants[v], tasks[t], length, depth, c->count, score,
                            c->nulls, tokens);
                    cJSON *row = cJSON_CreateObject();
                    cJSON_AddStringToObject(row, "variant", variants[v]);
                    cJSON_AddStringToObject(row, "task", tasks[t]);
                    if (lengths[l] >= 0)
                        cJSON_AddNumberToObject(row, "length", (double)lengths[l]);
                    else
                        cJSON_AddStringToObject(row, "length", "unknown");
                    if (d == nd)
                        cJSON_AddStringToObject(row, "depth", "all");
                    else if (depths[d] < 0)
                        cJSON_AddStringToObject(row, "depth", "unknown");
                    else
                        cJSON_AddNumberToObject(row, "depth", depths[d]);
                    cJSON_AddNumberToObject(row, "samples", c->count);
                    cJSON_AddNumberToObject(row, "score", score);
                    cJSON_AddNumberToObject(row, "nulls", c->nulls);
                    if (c->with_tokens) cJSON_AddNumberToObject(row, "tokens", round(c->tokens / c->with_tokens));
                    cJSON_AddItemToArray(rows, row);
                    if (d == nd) printf(" %8.2f", score);
                }
            printf("\n");
        }
    for (int t = 0; t < nt && rc == 0; t++) {
        /* Heat map of the task: one depth x length panel per variant, over
         * the depths this task has (not the union over the tasks), each column
         * labelled with the prompts' mean token count. */
        int *rows = malloc((size_t)(nd ? nd : 1) * sizeof *rows), tnd = 0;
        double *row_depths = malloc((size_t)(nd ? nd : 1) * sizeof *row_depths);
        for (int d = 0; d < nd; d++) {
            bool any = false;
            for (int v = 0; v < nv; v++)
                for (int l = 0; l < nl; l++) any |= CELL(v, t, l, d).count > 0;
            if (any) rows[tnd] = d, row_depths[tnd++] = depths[d];
        }
        double *grid_scores = malloc((size_t)nv * (tnd ? tnd : 1) * nl * sizeof *grid_scores);
        int *grid_counts = malloc((size_t)nv * (tnd ? tnd : 1) * nl * sizeof *grid_counts);
        double *tokens = calloc((size_t)nl, sizeof *tokens);
        for (int l = 0; l < nl; l++) {
            double sum = 0;
            int k = 0;
            for (int v = 0; v < nv; v++) sum += CELL(v, t, l, nd).tokens, k += CELL(v, t, l, nd).with_tokens;
            tokens[l] = k ? sum / k : 0;
        }
        for (int v = 0; v < nv; v++)
            for (int d = 0; d < tnd; d++)
                for (int l = 0; l < nl; l++) {
                    const struct cell *c = &CELL(v, t, l, rows[d]);
                    const size_t at = ((size_t)v * tnd + d) * nl + l;
                    grid_scores[at] = c->count ? 100.0 * c->sum / c->count : NAN;
                    grid_counts[at] = c->count;
                }
        char title[128], subtitle[160];
        snprintf(title, sizeof title, "%s: string_match_all (%%)", tasks[t]);
        snprintf(subtitle, sizeof subtitle, "by needle depth%s and context length; n = samples in the cell",
                 grid ? "" : " (deciles of RULER's random depths)");
        snprintf(path, sizeof path, "%s/heatmap_%s.svg", dir, tasks[t]);
        rc = niah_write_svg(path, title, subtitle, variants, nv, row_depths, tnd, lengths, tokens, nl, grid_scores,
                            grid_counts, e);
        free(grid_scores), free(grid_counts), free(tokens), free(rows), free(row_depths);
    }
    if (fclose(csv) != 0 && rc == 0) rc = hr_fail(e, "%s/summary.csv: write failed", dir);
    /* RULER's own summary (scripts/eval/evaluate.py: a pandas frame, header row
     * of column indices, rows Tasks / Score / Nulls), one per variant and length
     * (RULER scores one model at one length per directory). */
    for (int v = 0; v < nv && rc == 0; v++)
        for (int l = 0; l < nl && rc == 0; l++) {
            char lab[32], name[128];
            length_label(lengths[l], lab, sizeof lab);
            if (nv == 1 && nl == 1)
                snprintf(name, sizeof name, "summary_ruler.csv");
            else
                snprintf(name, sizeof name, "summary_ruler_%s_%s.csv", variants[v], lengths[l] < 0 ? "unknown" : lab);
            snprintf(path, sizeof path, "%s/%s", dir, name);
            FILE *f = fopen(path, "w");
            if (!f) {
                rc = hr_fail(e, "%s: cannot create: %s", path, strerror(errno));
                break;
            }
            int cols = 0;
            for (int t = 0; t < nt; t++) cols += CELL(v, t, l, nd).count > 0;
            for (int k = 0; k <= cols; k++) fprintf(f, k ? ",%d" : "%d", k);
            fprintf(f, "\nTasks");
            for (int t = 0; t < nt; t++)
                if (CELL(v, t, l, nd).count) fprintf(f, ",%s", tasks[t]);
            fprintf(f, "\nScore");
            for (int t = 0; t < nt; t++) {
                const struct cell *c = &CELL(v, t, l, nd);
                if (!c->count) continue;
                char num[32];
                py_float_repr(niah_round2(100.0 * c->sum / c->count), num, sizeof num);
                fprintf(f, ",%s", num);
            }
            fprintf(f, "\nNulls");
            for (int t = 0; t < nt; t++) {
                const struct cell *c = &CELL(v, t, l, nd);
                if (c->count) fprintf(f, ",%d/%d", c->nulls, c->count);
            }
            fprintf(f, "\n");
            if (fclose(f) != 0) rc = hr_fail(e, "%s: write failed", path);
        }
    if (rc == 0) {
        snprintf(path, sizeof path, "%s/summary.json", dir);
        FILE *f = fopen(path, "w");
        char *text = cJSON_Print(json);
        if (!f || fputs(text, f) < 0 || fputc('\n', f) < 0) rc = hr_fail(e, "%s: cannot write", path);
        if (f && fclose(f) != 0 && rc == 0) rc = hr_fail(e, "%s: write failed", path);
        free(text);
    }
out:
#undef CELL
    cJSON_Delete(json);
    free(cells), free(lengths), free(depths);
    return rc;
}
