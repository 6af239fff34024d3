#include "lens.h"

#include <stdlib.h>
#include <string.h>

#include "session.h"

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
    s.lens = l;
    int rc = 0;
    for (l->pass = 1; rc == 0 && l->pass <= (any_lightning ? 2 : 1); l->pass++) {
        session_reset(&s);
        rc = session_forward(&s, ids, (int)(P + 1), NULL, false, e);
    }
    session_free(&s);
    if (rc) lens_free(l);
    return rc;
}
