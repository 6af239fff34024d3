#include "engine/tensor_dump.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/arch/arch.h"
#include "engine/layers/block.h"
#include "stb_ds.h"

int tensor_recorder_init(struct tensor_recorder *r, const struct model *m, int64_t T, const char *regex,
                         struct hr_error *e)
{
    memset(r, 0, sizeof *r);
    r->m = m;
    r->T = T;
    sh_new_strdup(r->index);
    if (regex) {
        const int rc = regcomp(&r->filter, regex, REG_EXTENDED | REG_NOSUB);
        if (rc != 0) {
            char why[256];
            regerror(rc, &r->filter, why, sizeof why);
            shfree(r->index);
            return hr_fail(e, "--dump-layers: '%s' is not a regular expression: %s", regex, why);
        }
        r->filtered = true;
    }
    return 0;
}

void tensor_recorder_free(struct tensor_recorder *r)
{
    for (ptrdiff_t i = 0; i < arrlen(r->tensors); i++) free(r->tensors[i].name), free(r->tensors[i].data);
    arrfree(r->tensors);
    shfree(r->index);
    if (r->filtered) regfree(&r->filter);
    memset(r, 0, sizeof *r);
}

/* The module path of layer li's token mixer. */
static const char *mixer_module(const struct model *m, int li)
{
    const char *linear = m->arch && m->arch->linear_mixer_module ? m->arch->linear_mixer_module : "self_attn";
    return m->layers[li].mixer == MIXER_SOFTMAX_ATTENTION ? "self_attn" : linear;
}

/* The tensor called name, [T, width] (rows_per_token == 1) or of the given
 * shape, created zeroed on first sight; NULL when filtered out or out of memory. */
static struct recorded_tensor *tensor_named(struct tensor_recorder *r, const char *name, int ndim, const int64_t *shape)
{
    const ptrdiff_t at = shgeti(r->index, name);
    if (at >= 0) return &r->tensors[r->index[at].value];
    if (r->filtered && regexec(&r->filter, name, 0, NULL, 0) != 0) return NULL;
    int64_t numel = 1;
    for (int d = 0; d < ndim; d++) numel *= shape[d];
    struct recorded_tensor t = {strdup(name), ndim, {0}, calloc((size_t)(numel ? numel : 1), sizeof(float))};
    for (int d = 0; d < ndim; d++) t.shape[d] = shape[d];
    if (!t.name || !t.data) {
        free(t.name), free(t.data);
        r->failed = true;
        return NULL;
    }
    shput(r->index, name, (int)arrlen(r->tensors));
    arrput(r->tensors, t);
    return &arrlast(r->tensors);
}

/* Rows pos .. pos + rows − 1 of x [rows, width] into the tensor name [T, width]. */
static void record_rows(struct tensor_recorder *r, const char *name, const float *x, int rows, int64_t width,
                        int64_t pos)
{
    if (pos >= r->T) return; /* decode steps after the prompt */
    const int64_t shape[2] = {r->T, width};
    struct recorded_tensor *t = tensor_named(r, name, 2, shape);
    if (!t) return;
    const int64_t n = pos + rows <= r->T ? rows : r->T - pos;
    memcpy(t->data + pos * width, x, (size_t)(n * width) * sizeof(float));
}

static void on_mixer_inputs(void *ctx, const struct mixer_inputs *in)
{
    struct tensor_recorder *r = ctx;
    char name[256];
    const char *mod = mixer_module(r->m, in->layer);
#define RECORD(field, what, width)                                                                                     \
    do {                                                                                                               \
        snprintf(name, sizeof name, "model.layers.%d.%s." what, in->layer, mod);                                       \
        record_rows(r, name, in->field, in->n, width, in->pos);                                                        \
    } while (0)
    RECORD(q, "q", (int64_t)in->heads * in->dk);
    RECORD(k, "k", (int64_t)in->kv_heads * in->dk);
    RECORD(v, "v", (int64_t)in->kv_heads * in->dv);
    if (in->log_decay) RECORD(log_decay, "log_decay", in->heads);
    if (in->beta) RECORD(beta, "beta", in->heads);
#undef RECORD
}

static void on_module_output(void *ctx, enum observed_module what, int layer, const float *x, int rows, int width,
                             int64_t pos)
{
    struct tensor_recorder *r = ctx;
    char name[256];
    switch (what) {
    case OBSERVE_EMBEDDINGS: snprintf(name, sizeof name, "model.embed_tokens"); break;
    case OBSERVE_MIXER_GATE:
        snprintf(name, sizeof name, "model.layers.%d.%s.gate", layer, mixer_module(r->m, layer));
        break;
    case OBSERVE_MIXER_OUTPUT:
        snprintf(name, sizeof name, "model.layers.%d.%s", layer, mixer_module(r->m, layer));
        break;
    case OBSERVE_MLP_OUTPUT: snprintf(name, sizeof name, "model.layers.%d.mlp", layer); break;
    case OBSERVE_LAYER_OUTPUT: snprintf(name, sizeof name, "model.layers.%d", layer); break;
    case OBSERVE_FINAL_NORM: snprintf(name, sizeof name, "model.norm"); break;
    }
    record_rows(r, name, x, rows, width, pos);
}

struct session_observer tensor_recorder_observer(struct tensor_recorder *r)
{
    return (struct session_observer){.ctx = r, .mixer_inputs = on_mixer_inputs, .module_output = on_module_output};
}

void tensor_recorder_add_states(struct tensor_recorder *r, const struct session *s)
{
    char name[256];
    for (int li = 0; li < r->m->cfg.num_layers; li++) {
        const struct layer *L = &r->m->layers[li];
        const struct layer_state *st = &s->layers[li];
        if (!st->S) continue;
        const struct recurrent_shape shape = block_kind(L->mixer)->recurrent(r->m, L);
        snprintf(name, sizeof name, "model.layers.%d.%s.state", li, mixer_module(r->m, li));
        const int64_t dims[3] = {shape.heads, shape.dk, shape.dv};
        struct recorded_tensor *t = tensor_named(r, name, 3, dims);
        if (t) memcpy(t->data, st->S, (size_t)st->S_floats * sizeof(float));
        if (st->conv_tail_floats == 0) continue;
        const int64_t channels = L->mixer == MIXER_JET ? (int64_t)L->jet.heads * L->jet.dv
                                                       : st->conv_tail_floats / (r->m->cfg.linear_conv_kernel - 1);
        const int64_t tail[2] = {st->conv_tail_floats / channels, channels};
        snprintf(name, sizeof name, "model.layers.%d.%s.conv_tail", li, mixer_module(r->m, li));
        if ((t = tensor_named(r, name, 2, tail)))
            memcpy(t->data, st->conv_tail, (size_t)st->conv_tail_floats * sizeof(float));
    }
}

int64_t tensor_dump_rank(const char *name)
{
    static const char *const within[] = {"q", "k", "v", "log_decay", "beta", "gate", "", "state", "conv_tail"};
    int layer;
    char rest[200] = "";
    if (strcmp(name, "input_ids") == 0) return 0;
    if (strcmp(name, "model.embed_tokens") == 0) return 1;
    if (sscanf(name, "model.layers.%d%199s", &layer, rest) >= 1 && layer >= 0) {
        int64_t sub = 50; /* another name under the layer: after its known ones */
        if (rest[0] == '\0') {
            sub = 40; /* the layer's output */
        } else if (strcmp(rest, ".mlp") == 0) {
            sub = 30;
        } else {
            const char *mixer_part = strncmp(rest, ".self_attn", 10) == 0     ? rest + 10
                                     : strncmp(rest, ".linear_attn", 12) == 0 ? rest + 12
                                                                              : NULL;
            for (int i = 0; mixer_part && i < 9; i++) {
                const bool match = within[i][0] ? mixer_part[0] == '.' && strcmp(mixer_part + 1, within[i]) == 0
                                                : mixer_part[0] == '\0';
                if (match) sub = i < 7 ? 10 + i : 41 + i; /* inputs, gate, output; state after the layer */
            }
        }
        return 100 + (int64_t)layer * 100 + sub;
    }
    if (strcmp(name, "model.norm") == 0) return INT64_C(1) << 40;
    if (strcmp(name, "logits") == 0) return (INT64_C(1) << 40) + 1;
    return (INT64_C(1) << 40) + 2;
}
