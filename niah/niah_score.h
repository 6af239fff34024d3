/* RULER's scoring (scripts/eval/evaluate.py and eval/synthetic/constants.py).
 * A prediction is post-processed: strip surrounding whitespace, replace every
 * character in \x00-\x1f by '\n', strip again. Then
 *   string_match_all   fraction of gold strings contained in the prediction,
 *                      case-insensitive (r.lower() in pred.lower()) — all NIAH tasks;
 *   string_match_part  1 if any gold string is contained, else 0 (QA tasks).
 * A task's score is the mean over samples × 100, rounded to 2 decimals. */
#ifndef HYRECALL_NIAH_SCORE_H
#define HYRECALL_NIAH_SCORE_H

#include <stdbool.h>
#include <stddef.h>

/* Post-processes pred in place (returns the start of the result inside it). */
char *niah_postprocess(char *pred);
double niah_string_match_all(const char *pred, const char *const *gold, int n_gold);
double niah_string_match_part(const char *pred, const char *const *gold, int n_gold);
/* Python's round(100 * mean, 2) for the task score. */
double niah_round2(double x);

struct niah_result;
struct hr_error;
/* Scores prediction JSONL text (modified in place): each line an object with
 * 'task', 'answers' (gold strings), the prediction as 'pred' (or, without it,
 * 'outputs': a string or a list of strings joined by spaces), optional
 * 'length', 'depth', 'variant'. *out is malloc'd. Errors name label and line. */
int niah_score_jsonl(const char *label, char *text, struct niah_result **out, int *n, struct hr_error *e);

#endif
