/* Feed-forward blocks: the SwiGLU MLP and the sparse mixture of experts. */
#ifndef HYRECALL_FFN_H
#define HYRECALL_FFN_H

#include "model.h"

/* out[n, hidden] = down(silu(gate x) ⊙ up x) (Shazeer 2020). gate_buf and
 * up_buf hold [n, intermediate]. */
void swiglu_mlp(const struct mlp_weights *w, const float *x, int n, float *gate_buf, float *up_buf, float *out);

/* Mixture of experts (Mixtral / Qwen-MoE), per token x:
 *   p = softmax(router x) over all experts (float32);  top-k by p;
 *   w = p_topk, renormalised to sum 1 when norm_topk_prob;
 *   y = Σ_k w_k · expert_k(x)  [+ sigmoid(shared_gate · x) · shared(x)].
 * Prefill groups the tokens routed to each expert into one GEMM batch.
 * Each token sums its experts in increasing expert index, whatever the
 * batch, so results do not depend on how tokens are grouped. */
struct moe_scratch {
    float *probs;   /* [n, experts] */
    int *choice;    /* [n, top_k] */
    float *weight;  /* [n, top_k] */
    int *rows;      /* [n] tokens of one expert */
    float *xs;      /* [n, hidden] gathered inputs */
    float *ys;      /* [n, hidden] expert outputs */
    float *gate_buf, *up_buf; /* [n, max intermediate] */
};
int moe_scratch_init(struct moe_scratch *s, const struct model_config *c, int n);
void moe_scratch_free(struct moe_scratch *s);
void moe_forward(const struct moe_weights *m, const float *x, int n, int hidden, struct moe_scratch *s, float *out);

#endif
