/* HypeNet (thunlp/hybrid-linear-attention, halo/modeling/hypenet at 229e301;
 * arXiv 2601.22156), as checked against the golden made by that code:
 *
 * - pre-norm Qwen3-style layers (RMSNorm weight w, eps rms_norm_eps everywhere),
 *   SwiGLU MLP, tied embeddings;
 * - "attn" layers: GQA softmax attention with per-head q/k RMSNorm and NO
 *   position encoding (HyPE: attn_use_rope false), a sigmoid output gate o_gate;
 * - "lightning-attn" layers: separate q/k/v projections (lightning_nh heads,
 *   lightning_nkv k/v heads: "un-shared" in the released models, where the
 *   conversion already expanded them), per-head q/k RMSNorm, RoPE on the full
 *   head dim, q scaled by 1/√d ("1/sqrt(d)"), lightning attention with the
 *   per-head ALiBi slope as decay (the same in every layer), RMSNorm over all
 *   heads' outputs (o_norm), a sigmoid gate z_proj, o_proj.
 *
 * Tensor names are the published ones (model.layers.N.self_attn.{q,k,v,o}_proj,
 * q_norm, k_norm, z_proj, o_norm for lightning; o_gate for attention).
 * attn_logits_scaling (HyPE, hype.h): null, a number, "hype" or "hype A".
 * Not supported (refused with a message): lightning short convolutions,
 * attn_use_rope true. */
#include "engine/arch/hypenet.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/arch/common.h"

/* ALiBi slopes (Press et al. 2022) as lightning_attn.py's _build_slope_tensor:
 * for n a power of two s_i = 2^{−8(i+1)/n}; otherwise the slopes of the
 * largest power of two c < n, then every other slope of 2c. */
static void alibi_slopes(int n, double *out)
{
    if ((n & (n - 1)) == 0) {
        const double start = pow(2.0, -8.0 / n);
        for (int i = 0; i < n; i++) out[i] = pow(start, i + 1);
        return;
    }
    int c = 1;
    while (2 * c < n) c *= 2;
    alibi_slopes(c, out);
    double *twice = malloc((size_t)(2 * c) * sizeof *twice);
    alibi_slopes(2 * c, twice);
    for (int i = 0; i < n - c; i++) out[c + i] = twice[2 * i];
    free(twice);
}

struct hypenet_options {
    int lightning_heads, lightning_kv_heads, lightning_head_dim;
    bool attn_output_gate;
    double lightning_scale;
    struct query_scaling q_scaling;
};

/* attn_logits_scaling as modeling_qwen3.py reads it: null; a number c; a
 * string "hype" (A = 362) or "hype A". A must be at least 2 (ln ⌊A⌋ > 0). */
static int read_query_scaling(const struct model_config *c, const cJSON *v, struct query_scaling *s, struct hr_error *e)
{
    *s = (struct query_scaling){QUERY_SCALING_NONE, 0};
    if (!v || cJSON_IsNull(v)) return 0;
    if (cJSON_IsNumber(v) && isfinite(v->valuedouble) && v->valuedouble > 0) {
        *s = (struct query_scaling){QUERY_SCALING_CONSTANT, v->valuedouble};
        return 0;
    }
    if (cJSON_IsString(v)) {
        const char *p = v->valuestring;
        if (strncmp(p, "hype", 4) == 0 && (p[4] == '\0' || p[4] == ' ')) {
            double a = 362.0;
            char *end = (char *)p + 4;
            if (*end == ' ') {
                a = strtod(end + 1, &end);
                if (end == p + 5) a = NAN;
            }
            if (*end == '\0' && a >= 2 && a < 1e15) {
                *s = (struct query_scaling){QUERY_SCALING_HYPE, a};
                return 0;
            }
        }
    }
    char *text = cJSON_PrintUnformatted(v);
    hr_fail(e,
            "%s: field 'attn_logits_scaling' is %s: expected null, a positive number, \"hype\" or \"hype A\" "
            "with A >= 2 (e.g. \"hype 500\", the released HypeNet-2B's)",
            c->path, text ? text : "unreadable");
    free(text);
    return -1;
}

static int read_options(const struct model *m, struct hypenet_options *o, struct hr_error *e)
{
    const struct model_config *c = &m->cfg;
    const cJSON *j = c->json;
    bool flag;
    if (cfg_int(c, j, "lightning_nh", 1, c->num_heads, &o->lightning_heads, e) ||
        cfg_int(c, j, "lightning_nkv", 1, c->num_kv_heads, &o->lightning_kv_heads, e) ||
        cfg_int(c, j, "lightning_head_dim", 1, c->head_dim, &o->lightning_head_dim, e) ||
        cfg_bool(c, j, "attn_use_output_gate", true, &o->attn_output_gate, e))
        return -1;
    if (o->lightning_heads % o->lightning_kv_heads != 0)
        return hr_fail(e, "%s: field 'lightning_nkv' (%d) must divide lightning_nh (%d)", c->path,
                       o->lightning_kv_heads, o->lightning_heads);
    if (o->lightning_head_dim != c->head_dim)
        return hr_fail(e, "%s: field 'lightning_head_dim' (%d) must equal head_dim (%d): the RoPE table is shared",
                       c->path, o->lightning_head_dim, c->head_dim);
    /* Flags whose other value the released models never use and we do not implement. */
    const struct {
        const char *field;
        bool required;
    } flags[] = {{"lightning_use_qk_norm", true},     {"lightning_use_rope", true},
                 {"lightning_use_output_norm", true}, {"lightning_use_output_gate", true},
                 {"lightning_use_short_conv", false}, {"attn_use_rope", false}};
    for (size_t i = 0; i < sizeof flags / sizeof *flags; i++) {
        if (cfg_bool(c, j, flags[i].field, flags[i].required, &flag, e)) return -1;
        if (flag != flags[i].required)
            return hr_fail(e, "%s: field '%s' = %s is not supported (the released HypeNet models use %s)", c->path,
                           flags[i].field, flag ? "true" : "false", flags[i].required ? "true" : "false");
    }
    if (read_query_scaling(c, cJSON_GetObjectItemCaseSensitive(j, "attn_logits_scaling"), &o->q_scaling, e)) return -1;
    const cJSON *scale = cJSON_GetObjectItemCaseSensitive(j, "lightning_scale");
    const char *spelled = cJSON_IsString(scale) ? scale->valuestring : "1/sqrt(d)";
    /* lightning_attn.py: "1/sqrt(d)" → d^−½, "1/d" → d^−1, anything else → 1. */
    o->lightning_scale = strcmp(spelled, "1/sqrt(d)") == 0 ? 1.0 / sqrt(o->lightning_head_dim)
                         : strcmp(spelled, "1/d") == 0     ? 1.0 / o->lightning_head_dim
                                                           : 1.0;
    return 0;
}

static int bind_lightning(struct weight_binder *b, const struct model_config *c, int i, const struct hypenet_options *o,
                          struct lightning_weights *w)
{
    const int64_t h = c->hidden_size, d = o->lightning_head_dim, qd = o->lightning_heads * d,
                  kvd = o->lightning_kv_heads * d;
    w->heads = o->lightning_heads;
    w->kv_heads = o->lightning_kv_heads;
    w->head_dim = (int)d;
    w->rope = true;
    w->q_scale = (float)o->lightning_scale;
    w->norm_eps = (float)c->rms_norm_eps;
#define LIN(suffix) "model.layers.%d.self_attn." suffix
    if (bind_matrix(b, &w->q, qd, h, LIN("q_proj.weight"), i) ||
        bind_matrix(b, &w->k, kvd, h, LIN("k_proj.weight"), i) ||
        bind_matrix(b, &w->v, kvd, h, LIN("v_proj.weight"), i) ||
        bind_vector(b, &w->q_norm, d, LIN("q_norm.weight"), i) ||
        bind_vector(b, &w->k_norm, d, LIN("k_norm.weight"), i) ||
        bind_matrix(b, &w->gate, qd, h, LIN("z_proj.weight"), i) ||
        bind_vector(b, &w->norm, qd, LIN("o_norm.weight"), i) ||
        bind_matrix(b, &w->out, h, qd, LIN("o_proj.weight"), i))
        return -1;
#undef LIN
    double *slopes = malloc((size_t)w->heads * sizeof *slopes);
    w->log_decay = malloc((size_t)w->heads * sizeof *w->log_decay);
    if (!slopes || !w->log_decay) {
        free(slopes);
        return hr_fail(b->e, "out of memory");
    }
    alibi_slopes(w->heads, slopes);
    for (int k = 0; k < w->heads; k++) w->log_decay[k] = -(float)slopes[k]; /* g_gamma = −slope (float32) */
    free(slopes);
    return 0;
}

static int hypenet_bind(struct weight_binder *b, struct model *m)
{
    const struct model_config *c = &m->cfg;
    struct hypenet_options o;
    if (read_options(m, &o, b->e)) return -1;
    if (bind_embeddings_and_head(b, m, false)) return -1;
    const struct attention_spec spec = {.qk_norm = true, .separate_gate = o.attn_output_gate, .no_rope = true};
    for (int i = 0; i < c->num_layers; i++) {
        struct layer *L = &m->layers[i];
        L->kind = c->layer_kinds[i];
        if (L->kind == LAYER_SLIDING_ATTENTION)
            return hr_fail(b->e, "%s: layer %d slides; HypeNet has no sliding-window layers", c->path, i);
        L->mixer = L->kind == LAYER_LINEAR_ATTENTION ? MIXER_LIGHTNING : MIXER_SOFTMAX_ATTENTION;
        L->mix_alpha = L->mix_beta = L->ffn_alpha = L->ffn_beta = 1.0f;
        if (bind_layer_norms(b, c, i, false, L) ||
            (L->mixer == MIXER_LIGHTNING ? bind_lightning(b, c, i, &o, &L->lightning)
                                         : bind_softmax_attention(b, c, i, &spec, &L->attn)) ||
            bind_dense_mlp(b, c, i, &L->mlp))
            return -1;
        if (L->mixer == MIXER_SOFTMAX_ATTENTION) L->attn.q_scaling = o.q_scaling;
    }
    return 0;
}

/* Both layer kinds: the whole q_proj and k_proj, with per-head q/k norms. */
static int hypenet_qk_parts(const struct model_config *c, int i, struct qk_parts *p, struct hr_error *e)
{
    (void)c, (void)e;
    qk_add_whole(p, QK_QUERY, "model.layers.%d.self_attn.q_proj.weight", i);
    qk_add_whole(p, QK_KEY, "model.layers.%d.self_attn.k_proj.weight", i);
    qk_add_whole(p, QK_NORM, "model.layers.%d.self_attn.q_norm.weight", i);
    qk_add_whole(p, QK_NORM, "model.layers.%d.self_attn.k_norm.weight", i);
    qk_add_whole(p, QK_VALUE, "model.layers.%d.self_attn.v_proj.weight", i);
    qk_add_whole(p, QK_OUTPUT, "model.layers.%d.self_attn.o_proj.weight", i);
    return 0;
}

/* The layer plan as mixer_types ("attn", "lightning-attn"), or layer_types. */
static int hypenet_read_config(struct model_config *c, struct hr_error *e)
{
    static const struct layer_kind_spelling names[] = {
        {"attn", LAYER_FULL_ATTENTION},
        {"attention", LAYER_FULL_ATTENTION},
        {"lightning-attn", LAYER_LINEAR_ATTENTION},
        {"lightning_attn", LAYER_LINEAR_ATTENTION},
    };
    const cJSON *types = cJSON_GetObjectItemCaseSensitive(c->json, "layer_types");
    return config_layer_plan(c, types && !cJSON_IsNull(types) ? "layer_types" : "mixer_types", names,
                             (int)(sizeof names / sizeof *names), 0, e);
}

const struct architecture arch_hypenet = {
    .model_type = "hypenet",
    .hf_class = "HypeNetForCausalLM",
    .description = "HypeNet: lightning attention (RoPE, q/k norm, gate) + position-free gated softmax attention",
    .read_config = hypenet_read_config,
    .qk_parts = hypenet_qk_parts,
    .bind = hypenet_bind,
};
