/* Jet-Nemotron (NVlabs/Jet-Nemotron, jetai/modeling/hf at 94cbd12), as checked
 * against the golden made by that code: Qwen2.5-style pre-norm layers (plain
 * RMSNorm weights, SwiGLU MLP, tied embeddings) whose mixer is
 * - "jet": the JetBlock (engine/layers/jet_block.c): gated delta rule on
 *   SiLU'd q/k and a dynamic causal convolution on v, gated RMSNorm output
 *   with its own eps (efficient_attention_config.jet.norm_eps);
 * - "attn": Qwen2 attention, q/k/v biases, RoPE, no q/k norm;
 * - "swa": the same with a sliding window of efficient_attention_config.swa.window_size
 *   (the query sees itself and the window − 1 positions before it).
 * Tensor names are the published ones; the JetBlock sits at self_attn. */
#include "engine/arch/jet_nemotron.h"

#include <math.h>
#include <stdio.h>

#include "engine/arch/common.h"

struct jet_options {
    int heads, head_dim, conv_size, reduction;
    double expand_v, norm_eps;
};

static int read_options(const struct model_config *c, struct jet_options *o, struct hr_error *e)
{
    const cJSON *eac = cJSON_GetObjectItemCaseSensitive(c->json, "efficient_attention_config");
    const cJSON *jet = cJSON_GetObjectItemCaseSensitive(eac, "jet");
    /* The JetBlockConfig dataclass defaults apply to absent fields. */
    return cfg_int(c, jet, "num_heads", 1, 6, &o->heads, e) || cfg_int(c, jet, "head_dim", 1, 256, &o->head_dim, e) ||
                   cfg_int(c, jet, "conv_size", 1, 4, &o->conv_size, e) ||
                   cfg_int(c, jet, "dconv_generator_reduction", 1, 8, &o->reduction, e) ||
                   cfg_number(c, jet, "expand_v", 2.0, &o->expand_v, e) ||
                   cfg_number(c, jet, "norm_eps", 1e-5, &o->norm_eps, e)
               ? -1
               : 0;
}

/* Python's int() of a product the code requires to be (nearly) integral. */
static int truncated(double x, const struct model_config *c, const char *what, int *out, struct hr_error *e)
{
    double t = floor(x);
    if (!(x >= 1 && x <= 1e9))
        return hr_fail(e, "%s: efficient_attention_config.jet: %s = %g is out of range", c->path, what, x);
    if (fabs(x - t) > 1e-5 * x)
        return hr_fail(e, "%s: efficient_attention_config.jet: %s = %g is not an integer", c->path, what, x);
    *out = (int)t;
    return 0;
}

static int bind_jet(struct weight_binder *b, const struct model_config *c, int i, const struct jet_options *o,
                    struct jet_weights *w)
{
    int value_dim = 0;
    w->heads = o->heads;
    w->dk = o->head_dim;
    w->conv_size = o->conv_size;
    w->norm_eps = (float)o->norm_eps;
    if (truncated((double)o->heads * o->head_dim * o->expand_v, c, "key_dim · expand_v", &value_dim, b->e) ||
        truncated((double)o->head_dim * o->expand_v, c, "head_dim · expand_v", &w->dv, b->e))
        return -1;
    if (value_dim != w->heads * w->dv)
        return hr_fail(b->e, "%s: efficient_attention_config.jet: value dim %d is not heads x head value dim", c->path,
                       value_dim);
    w->gen_hidden = value_dim / o->reduction;
    const int64_t h = c->hidden_size, kd = (int64_t)w->heads * w->dk, vd = value_dim;
#define JET(suffix) "model.layers.%d.self_attn." suffix
    return bind_matrix(b, &w->q, kd, h, JET("q_proj.weight"), i) ||
                   bind_matrix(b, &w->k, kd, h, JET("k_proj.weight"), i) ||
                   bind_matrix(b, &w->v, vd, h, JET("v_proj.weight"), i) ||
                   bind_matrix(b, &w->g, vd, h, JET("g_proj.weight"), i) ||
                   bind_matrix(b, &w->b, w->heads, h, JET("b_proj.weight"), i) ||
                   bind_matrix(b, &w->a, w->heads, h, JET("a_proj.weight"), i) ||
                   bind_vector(b, &w->A_log, w->heads, JET("A_log"), i) ||
                   bind_vector(b, &w->dt_bias, w->heads, JET("dt_bias"), i) ||
                   bind_matrix(b, &w->gen1, w->gen_hidden, h, JET("dynamic_conv1d.kernel_generator.w1.weight"), i) ||
                   bind_matrix(b, &w->gen2, vd * w->conv_size, w->gen_hidden,
                               JET("dynamic_conv1d.kernel_generator.w2.weight"), i) ||
                   bind_vector(b, &w->gen2_bias, vd * w->conv_size, JET("dynamic_conv1d.kernel_generator.w2.bias"),
                               i) ||
                   bind_vector(b, &w->o_norm, w->dv, JET("o_norm.weight"), i) ||
                   bind_matrix(b, &w->o, h, vd, JET("o_proj.weight"), i)
               ? -1
               : 0;
#undef JET
}

static int jet_nemotron_bind(struct weight_binder *b, struct model *m)
{
    const struct model_config *c = &m->cfg;
    struct jet_options o;
    if (read_options(c, &o, b->e)) return -1;
    if (bind_embeddings_and_head(b, m, false)) return -1;
    const struct attention_spec spec = {.qkv_bias = true};
    for (int i = 0; i < c->num_layers; i++) {
        struct layer *L = &m->layers[i];
        L->kind = c->layer_kinds[i];
        L->window = L->kind == LAYER_SLIDING_ATTENTION ? c->sliding_window : 0;
        L->mixer = L->kind == LAYER_LINEAR_ATTENTION ? MIXER_JET : MIXER_SOFTMAX_ATTENTION;
        L->mix_alpha = L->mix_beta = L->ffn_alpha = L->ffn_beta = 1.0f;
        if (bind_layer_norms(b, c, i, false, L) ||
            (L->mixer == MIXER_JET ? bind_jet(b, c, i, &o, &L->jet)
                                   : bind_softmax_attention(b, c, i, &spec, &L->attn)) ||
            bind_dense_mlp(b, c, i, &L->mlp))
            return -1;
    }
    return 0;
}

/* JetBlock and attention: the whole q_proj and k_proj (attention layers also
 * have q/k biases). */
static int jet_nemotron_qk_parts(const struct model_config *c, int i, struct qk_parts *p, struct hr_error *e)
{
    (void)e;
    qk_add_whole(p, QK_QUERY, "model.layers.%d.self_attn.q_proj.weight", i);
    qk_add_whole(p, QK_KEY, "model.layers.%d.self_attn.k_proj.weight", i);
    qk_add_whole(p, QK_VALUE, "model.layers.%d.self_attn.v_proj.weight", i);
    qk_add_whole(p, QK_OUTPUT, "model.layers.%d.self_attn.o_proj.weight", i);
    if (c->layer_kinds[i] != LAYER_LINEAR_ATTENTION) {
        qk_add_whole(p, QK_QUERY_BIAS, "model.layers.%d.self_attn.q_proj.bias", i);
        qk_add_whole(p, QK_KEY_BIAS, "model.layers.%d.self_attn.k_proj.bias", i);
        qk_add_whole(p, QK_VALUE_BIAS, "model.layers.%d.self_attn.v_proj.bias", i);
    }
    return 0;
}

/* The layer plan as layer_types of "jet", "attn" and "swa", the window as
 * efficient_attention_config.swa.window_size (or sliding_window). */
static int jet_nemotron_read_config(struct model_config *c, struct hr_error *e)
{
    static const struct layer_kind_spelling names[] = {
        {"jet", LAYER_LINEAR_ATTENTION},
        {"attn", LAYER_FULL_ATTENTION},
        {"swa", LAYER_SLIDING_ATTENTION},
    };
    const cJSON *swa = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(c->json, "efficient_attention_config"), "swa");
    const cJSON *ws = cJSON_GetObjectItemCaseSensitive(swa, "window_size");
    if (ws && (!cJSON_IsNumber(ws) || ws->valuedouble < 1 || ws->valuedouble > 1e9 ||
               ws->valuedouble != floor(ws->valuedouble)))
        return hr_fail(e, "%s: field 'efficient_attention_config.swa.window_size' must be an integer >= 1", c->path);
    return config_layer_plan(c, "layer_types", names, (int)(sizeof names / sizeof *names),
                             ws ? (int)ws->valuedouble : 0, e);
}

const struct architecture arch_jet_nemotron = {
    .model_type = "jet_nemotron",
    .hf_class = "JetNemotronForCausalLM",
    .description = "Jet-Nemotron: JetBlock (gated delta rule + dynamic conv) + full and sliding-window attention",
    .read_config = jet_nemotron_read_config,
    .qk_parts = jet_nemotron_qk_parts,
    .bind = jet_nemotron_bind,
};
