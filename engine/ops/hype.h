/* HyPE query scaling: HypeNet's position-free softmax layers multiply each
 * query, after q_norm and before the softmax, by a factor that grows with its
 * position, so that attention stays sharp as the context grows (the HypeNet
 * paper, arXiv 2601.22156, Eq. 11; the released HypeNet-2B is run with
 * "attn_logits_scaling": "hype 500", halo/README.md step 5). As the published
 * code computes it (halo/modeling/hypenet/modeling_qwen3.py at 229e301,
 * Qwen3Attention.forward), for the query at absolute 0-based position t:
 *   "hype A"  q ← bf16(q · s_t),  s_t = ln(t + A) / ln(⌊A⌋)   (A = 362 for "hype")
 *   number c  q ← bf16(q · c)
 * The product is float32 and then rounded to bfloat16 (query_states.to(
 * torch.bfloat16)); keys and values stay float32. (⌊A⌋: the code takes the
 * denominator's log of torch.full_like(position_ids, A), an integer tensor.) */
#ifndef HYRECALL_HYPE_H
#define HYRECALL_HYPE_H

#include <stdint.h>

enum query_scaling_kind { QUERY_SCALING_NONE, QUERY_SCALING_CONSTANT, QUERY_SCALING_HYPE };

struct query_scaling {
    enum query_scaling_kind kind;
    double value; /* CONSTANT: c; HYPE: A */
};

/* s_t of HYPE, as float32 (the code's float32 log of t + A over log ⌊A⌋). */
float hype_factor(double a, int64_t t);

/* q [n, heads, d] of the positions pos0 .. pos0+n−1, scaled in place. */
void query_scaling_apply(const struct query_scaling *s, float *q, int n, int heads, int d, int64_t pos0);

#endif
