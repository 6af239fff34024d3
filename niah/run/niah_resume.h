/* Resuming a niah run in an existing --out: whether it holds the same run
 * (models compared by the SHA-256 of their files, not by how their paths are
 * spelled), which samples are already in its predictions.jsonl (by key:
 * variant, task, length, sample index, depth), and, at the end, that file put
 * back in the order a run from scratch writes it. RULER draws sample i the
 * same way whatever the sample count, so a run with more --samples than the
 * recorded one extends it (not with --depths: there a sample's index counts
 * across the depths, so it moves with the count). */
#ifndef HYRECALL_NIAH_RESUME_H
#define HYRECALL_NIAH_RESUME_H

#include <cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine/base/error.h"

struct niah_resume {
    bool existed;          /* OUT held a run */
    long recorded_samples; /* its --samples */
    struct niah_key_set {
        char *key;
        int value;
    } * done; /* stb_ds string map: the keys of the predictions already there */
    int num_done;
};

/* The key of one prediction. */
void niah_unit_key(const char *variant, const char *task, int64_t length, int index, int depth, char *out, size_t n);

/* OUT absent: r->existed is false. OUT present: its run.json must equal
 * `manifest` in every field but "samples" (which may grow, not shrink); a
 * variant whose model files differ is refused naming the file. A torn last
 * line of predictions.jsonl (a kill) is dropped. */
int niah_resume_prepare(const char *out, const cJSON *manifest, struct niah_resume *r, struct hr_error *e);
bool niah_resume_done(struct niah_resume *r, const char *key);
void niah_resume_free(struct niah_resume *r);

/* Rewrites OUT/predictions.jsonl (atomically) with its lines in the order
 * `order` gives their keys (stb_ds string map, key -> place); every line's key
 * must be in it. A no-op when the lines are in that order already. */
int niah_predictions_reorder(const char *out, struct niah_key_set *order, struct hr_error *e);

#endif
