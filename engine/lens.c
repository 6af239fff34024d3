#include "engine/lens.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/ops/kernels.h"
#include "engine/session.h"

void lens_free(struct lens *l)
{
    for (int i = 0; i < l->num_layers; i++) {
        if (l->attn) free(l->attn[i]);
        if (l->contrib) free(l->contrib[i]);
        if (l->q_at) free(l->q_at[i]);
    }
    free(l->attn), free(l->contrib), free(l->q_at), free(l->heads);
    memset(l, 0, sizeof *l);
}

/* Softmax layers: the attention row of P, written by the attention kernel
 * itself during pass 1, before the cache moves on. */
static const struct attention_probe *lens_attention_probe(void *ctx, int layer)
{
    struct lens *l = ctx;
    if (l->pass != 1 || !l->attn[layer]) return NULL;
    l->probe = (struct attention_probe){l->position, l->attn[layer]};
    return &l->probe;
}

/* Lightning layers: pass 1 keeps q_P; pass 2 sizes each position's term
 * λ^{P−j} |q_P·k_j| ‖v_j‖ of o_P = Σ_j λ^{P−j} (q_P·k_j) v_j. */
static void lens_mixer_inputs(void *ctx, const struct mixer_inputs *in)
{
    struct lens *l = ctx;
    const int li = in->layer, H = in->heads, d = in->dk;
    if (!l->q_at[li]) return; /* not a lightning layer, or a lens on the softmax layers only */
    const int64_t P = l->position;
    if (l->pass == 1) {
        if (P >= in->pos && P < in->pos + in->n)
            memcpy(l->q_at[li], in->q + (P - in->pos) * H * d, (size_t)H * d * sizeof(float));
        return;
    }
    for (int t = 0; t < in->n && in->pos + t <= P; t++)
        for (int h = 0; h < H; h++) {
            const float *k = in->k + ((int64_t)t * H + h) * d, *v = in->v + ((int64_t)t * H + h) * d;
            const double decay = exp((double)in->log_decay[(int64_t)t * H + h] * (double)(P - (in->pos + t)));
            double vv = 0;
            for (int i = 0; i < d; i++) vv += (double)v[i] * v[i];
            l->contrib[li][(int64_t)h * (P + 1) + in->pos + t] =
                (float)(decay * fabs((double)dot_f32(l->q_at[li] + (int64_t)h * d, k, d)) * sqrt(vv));
        }
}

struct session_observer lens_observer(struct lens *l)
{
    return (struct session_observer){
        .ctx = l, .attention_probe = lens_attention_probe, .mixer_inputs = lens_mixer_inputs};
}

int lens_run(const struct model *m, const int32_t *ids, int64_t P, int batch, struct lens *l, struct hr_error *e)
{
    memset(l, 0, sizeof *l);
    const int L = m->cfg.num_layers;
    l->position = P;
    l->num_layers = L;
    l->heads = calloc((size_t)L, sizeof *l->heads);
    l->attn = calloc((size_t)L, sizeof *l->attn);
    l->contrib = calloc((size_t)L, sizeof *l->contrib);
    l->q_at = calloc((size_t)L, sizeof *l->q_at);
    bool any_lightning = false;
    for (int i = 0; i < L; i++) {
        const struct layer *ly = &m->layers[i];
        if (ly->mixer == MIXER_SOFTMAX_ATTENTION) {
            l->heads[i] = m->cfg.num_heads;
            l->attn[i] = calloc((size_t)(l->heads[i] * (P + 1)), sizeof(float));
        } else if (ly->mixer == MIXER_LIGHTNING) {
            l->heads[i] = ly->lightning.heads;
            l->contrib[i] = calloc((size_t)(l->heads[i] * (P + 1)), sizeof(float));
            l->q_at[i] = calloc((size_t)(l->heads[i] * ly->lightning.head_dim), sizeof(float));
            any_lightning = true;
        }
    }
    struct session s;
    if (session_init(&s, m, batch, e)) {
        lens_free(l);
        return -1;
    }
    const struct session_observer observer = lens_observer(l);
    session_set_observer(&s, &observer);
    int rc = 0;
    for (l->pass = 1; rc == 0 && l->pass <= (any_lightning ? 2 : 1); l->pass++) {
        session_reset(&s);
        rc = session_forward(&s, ids, (int)(P + 1), NULL, false, e);
    }
    session_free(&s);
    if (rc) lens_free(l);
    return rc;
}
