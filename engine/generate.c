#include "engine/generate.h"

#include <math.h>
#include <stdlib.h>

int argmax_f32(const float *x, int n)
{
    int best = 0;
    for (int i = 0; i < n; i++) {
        if (isnan(x[i])) return -1;
        if (x[i] > x[best]) best = i;
    }
    return best;
}

int generate_greedy(struct session *s, const struct generate_request *r, int32_t *out, int *n_out, struct hr_error *e)
{
    const int V = s->m->cfg.vocab_size;
    *n_out = 0;
    float *own = NULL;
    float *last = r->prompt_logits ? r->prompt_logits + (int64_t)(r->prompt_len - 1) * V
                                   : (own = malloc((size_t)V * sizeof(float)));
    if (!last) return hr_fail(e, "out of memory");
    if (r->prefix && r->prompt_logits) {
        free(own);
        return hr_fail(e, "generate: a prefix cache gives the last prompt row only, not every prompt row");
    }
    int rc = r->prefix ? prefix_cache_prefill(r->prefix, r->prompt, r->prompt_len, last, e)
                       : session_forward(s, r->prompt, r->prompt_len, r->prompt_logits ? r->prompt_logits : last,
                                         r->prompt_logits != NULL, e);
    if (rc == 0 && r->on_prefilled) r->on_prefilled(r->on_prefilled_ctx, s);
    for (int i = 0; rc == 0 && i < r->max_new; i++) {
        int next = argmax_f32(last, V);
        if (next < 0) {
            rc = hr_fail(e, "non-finite logits at position %lld", (long long)s->pos - 1);
            break;
        }
        out[(*n_out)++] = next;
        bool stop = false;
        for (int j = 0; j < r->num_stop; j++) stop |= next == r->stop_ids[j];
        if (r->on_token) r->on_token(r->on_token_ctx, next, stop);
        bool feed = r->step_logits ? true : (!stop && i + 1 < r->max_new);
        if (!feed) break;
        float *dst = r->step_logits ? r->step_logits + (int64_t)i * V : last;
        rc = session_forward(s, (const int32_t *)&out[i], 1, dst, false, e);
        last = dst;
        if (stop) break;
    }
    free(own);
    return rc;
}
