/* hyrecall niah --lens: where the softmax-attention layers look when the
 * model is asked for the needle. For each sample, the last prompt position P
 * (the end of the answer prefix, where the first answer token is chosen) is
 * observed through the routing lens (engine/lens.h), and for every softmax
 * layer and head three masses of its attention row are recorded:
 *
 *   value   Σ p_j over the tokens of the needle's value (answers[0]'s needle)
 *   key     Σ p_j over the tokens of that needle's key
 *   recent  Σ p_j over the last 1,024 positions (j > P − 1024)
 *
 * and, per layer (mean over heads), the distance profile: the mass at
 * distance d = P − j in buckets 0 (d = 0) and b ≥ 1 (2^(b−1) ≤ d < 2^b).
 * Attention amnesia shows as value mass moving into the recent buckets.
 *
 * The masses go into each predictions.jsonl line as "lens"; the reports are
 * made from those lines: lens_summary.csv, lens_heads.svg (per variant,
 * layers × heads, mean value mass) and distance_profile.svg (one line per
 * variant). */
#ifndef HYRECALL_NIAH_LENS_H
#define HYRECALL_NIAH_LENS_H

#include <cJSON.h>

#include "engine/base/error.h"
#include "engine/hyrecall.h"
#include "niah/niah_generate.h"
#include "tokenizer/tokenizer.h"

/* Attention rows of the softmax layers at position P, for a session to fill
 * during its prefill (pass 1 only: no lightning contributions). */
int niah_lens_begin(struct lens *l, const struct model *m, int64_t P);

/* The "lens" object of one sample: masses per softmax layer and head. The
 * needle's token spans come from the tokens' own bytes; when the prompt's bytes
 * cannot be matched to them (normalisation changed the text, or the sample has
 * no needle offset) value and key are left out. */
cJSON *niah_lens_measure(const struct lens *l, const struct tokenizer *tok, const int32_t *ids, int n,
                         const struct niah_sample *s);

/* From the predictions.jsonl at predictions_path: DIR/lens_summary.csv, DIR/lens_heads.svg and
 * DIR/distance_profile.svg, and a per-layer table on stdout. Nothing when no
 * line has a "lens" object. */
int niah_lens_write_reports(const char *dir, const char *predictions_path, struct hr_error *e);

#endif
