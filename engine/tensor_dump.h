/* Reference dumps for porters: an observer (observer.h) that records what
 * every module of the model computes for a prompt, named by its PyTorch
 * module path, so that another implementation's tensors can be diffed
 * against ours to find the first that differs (`hyrecall diff`).
 *
 *   model.embed_tokens                   [T, hidden]  the embeddings
 *   model.layers.N.self_attn | linear_attn [T, hidden] the token mixer's output, after its output projection
 *       .q  [T, heads·dk]   .k  [T, kv_heads·dk]   .v  [T, kv_heads·dv]
 *                          what the mixer multiplies: after norms, activations, RoPE, HyPE and scale
 *       .log_decay [T, heads], .beta [T, heads]   per-step log decay and delta-rule write strength
 *       .gate [T, width]   the output gate before its activation
 *       .state [heads, dk, dv], .conv_tail [kernel − 1, channels]   a linear layer's state after the prompt
 *   model.layers.N.mlp                   [T, hidden]  the dense or MoE block's output
 *   model.layers.N                       [T, hidden]  the residual stream after layer N
 *   model.norm                           [T, hidden]  the final norm (rows whose logits are computed)
 *
 * Only positions 0 .. T − 1 are kept (decode steps after the prompt are not
 * recorded). A filter (POSIX extended regex) selects names. */
#ifndef HYRECALL_TENSOR_DUMP_H
#define HYRECALL_TENSOR_DUMP_H

#include <regex.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine/base/error.h"
#include "engine/model.h"
#include "engine/observer.h"
#include "engine/session.h"

struct recorded_tensor {
    char *name;
    int ndim;
    int64_t shape[3];
    float *data;
};

struct tensor_recorder {
    const struct model *m;
    int64_t T;
    bool filtered;
    regex_t filter;
    struct recorded_tensor *tensors; /* stb_ds array, in the order first seen (the forward order) */
    struct recorder_index {
        char *key;
        int value;
    } * index;   /* stb_ds string map: name -> place in tensors */
    bool failed; /* out of memory while recording */
};

/* Records the first T positions of a session over m; regex NULL for every
 * name, else only the names it matches (e is set when it does not compile). */
int tensor_recorder_init(struct tensor_recorder *r, const struct model *m, int64_t T, const char *regex,
                         struct hr_error *e);
struct session_observer tensor_recorder_observer(struct tensor_recorder *r);
/* Adds every linear layer's state and convolution tail as they are now. */
void tensor_recorder_add_states(struct tensor_recorder *r, const struct session *s);
void tensor_recorder_free(struct tensor_recorder *r);

/* A name's place in the forward order (embeddings, each layer's mixer inputs,
 * gate, mixer, MLP, output and state, the final norm, the logits), for
 * listing two dumps' tensors in the order a divergence propagates. */
int64_t tensor_dump_rank(const char *name);

#endif
