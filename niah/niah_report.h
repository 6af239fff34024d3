/* NIAH results: summary tables (CSV, JSON) and one SVG heat map per task
 * (depth × length, score as colour with the number in each cell; the colour
 * ramp of the original needle test: red #F0496E, yellow #EBB839, green #0CD79F). */
#ifndef HYRECALL_NIAH_REPORT_H
#define HYRECALL_NIAH_REPORT_H

#include <cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine/base/error.h"

struct niah_result {
    char variant[32]; /* the model variant (A/B comparison), or "model" */
    char task[32];
    int64_t length;
    double depth; /* percent */
    double score; /* string_match_all of the sample, 0..1 */
    bool null;    /* empty prediction after post-processing */
    int n_tokens; /* the prompt's tokens (0 when the predictions do not say) */
};

/* Depth rows of the reports: the grid depths themselves, or for RULER's
 * random depths, deciles 0, 10, …, 90 (90 holds 90..100). */
double niah_depth_bucket(double depth, bool grid);
/* A length or depth the predictions do not record (RULER's files): its own
 * row or column ("?"), never counted as 0. */
#define NIAH_UNKNOWN (-1)

/* Writes DIR/summary.csv, DIR/summary.json (meta: an object recorded as is,
 * may be NULL) and DIR/heatmap_<task>.svg (one panel per variant, side by
 * side); prints the task × length table to stdout. */
int niah_write_reports(const char *dir, const struct niah_result *r, int n, bool grid, const cJSON *meta,
                       struct hr_error *e);

/* One heat map per panel, side by side: rows depths, columns lengths (with
 * the prompts' mean token count under each when tokens[l] > 0),
 * scores[panel][d * nl + l] in 0..100 or NaN (absent), counts the samples of
 * each cell; a colour scale under the panels. */
int niah_write_svg(const char *path, const char *title, const char *subtitle, const char *const *panels, int np,
                   const double *depths, int nd, const int64_t *lengths, const double *tokens, int nl,
                   const double *scores, const int *counts, struct hr_error *e);

#endif
