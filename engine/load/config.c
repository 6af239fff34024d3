#include "engine/load/config.h"

#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/files.h"

const char *layer_kind_name(enum layer_kind k)
{
    switch (k) {
    case LAYER_FULL_ATTENTION: return "full_attention";
    case LAYER_SLIDING_ATTENTION: return "sliding_attention";
    case LAYER_LINEAR_ATTENTION: return "linear_attention";
    }
    return "?";
}

/* Typed field readers: each names the file and the field on failure. */
struct json_ctx {
    const char *path;
    const cJSON *root;
    struct hr_error *e;
};

static int get_int(const struct json_ctx *c, const char *field, int min, int *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->root, field);
    if (!v) return hr_fail(c->e, "%s: required field '%s' is missing", c->path, field);
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < min || v->valuedouble > 1e9)
        return hr_fail(c->e, "%s: field '%s' must be an integer >= %d", c->path, field, min);
    *out = (int)v->valuedouble;
    return 0;
}

static int get_int_or(const struct json_ctx *c, const char *field, int min, int fallback, int *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->root, field);
    if (!v || cJSON_IsNull(v)) {
        *out = fallback;
        return 0;
    }
    return get_int(c, field, min, out);
}

static int get_double_or(const struct json_ctx *c, const cJSON *obj, const char *field, double fallback, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, field);
    if (!v || cJSON_IsNull(v)) {
        *out = fallback;
        return 0;
    }
    if (!cJSON_IsNumber(v) || !(v->valuedouble > 0))
        return hr_fail(c->e, "%s: field '%s' must be a positive number", c->path, field);
    *out = v->valuedouble;
    return 0;
}

static int get_bool_or(const struct json_ctx *c, const char *field, bool fallback, bool *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->root, field);
    if (!v || cJSON_IsNull(v)) {
        *out = fallback;
        return 0;
    }
    if (!cJSON_IsBool(v)) return hr_fail(c->e, "%s: field '%s' must be true or false", c->path, field);
    *out = cJSON_IsTrue(v);
    return 0;
}

int cfg_int(const struct model_config *cfg, const cJSON *obj, const char *field, int min, int fallback, int *out,
            struct hr_error *e)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, field);
    if (!v || cJSON_IsNull(v)) {
        *out = fallback;
        return 0;
    }
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < min || v->valuedouble > 1e9)
        return hr_fail(e, "%s: field '%s' must be an integer >= %d", cfg->path, field, min);
    *out = (int)v->valuedouble;
    return 0;
}

int cfg_number(const struct model_config *cfg, const cJSON *obj, const char *field, double fallback, double *out,
               struct hr_error *e)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, field);
    if (!v || cJSON_IsNull(v)) {
        *out = fallback;
        return 0;
    }
    char *end = NULL;
    if (cJSON_IsNumber(v))
        *out = v->valuedouble;
    else if (cJSON_IsString(v)) /* published configs write some numbers as strings ("1e-5") */
        *out = strtod(v->valuestring, &end);
    if ((!cJSON_IsNumber(v) && !(cJSON_IsString(v) && end != v->valuestring && *end == '\0')) || !(*out > 0))
        return hr_fail(e, "%s: field '%s' must be a positive number", cfg->path, field);
    return 0;
}

int cfg_bool(const struct model_config *cfg, const cJSON *obj, const char *field, bool fallback, bool *out,
             struct hr_error *e)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, field);
    if (!v || cJSON_IsNull(v)) {
        *out = fallback;
        return 0;
    }
    if (!cJSON_IsBool(v)) return hr_fail(e, "%s: field '%s' must be true or false", cfg->path, field);
    *out = cJSON_IsTrue(v);
    return 0;
}

/* RoPE: transformers 5 writes rope_parameters {rope_theta, rope_type, factor,
 * partial_rotary_factor}; older files write rope_theta and rope_scaling
 * {type|rope_type, factor} at top level. */
static int parse_rope(const struct json_ctx *c, struct model_config *cfg)
{
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(c->root, "rope_parameters");
    const cJSON *scaling = cJSON_GetObjectItemCaseSensitive(c->root, "rope_scaling");
    const char *where = "rope_parameters";
    if (params && !cJSON_IsNull(params) && !cJSON_IsObject(params))
        return hr_fail(c->e, "%s: field 'rope_parameters' must be an object", c->path);
    if (!params || cJSON_IsNull(params)) {
        params = (scaling && cJSON_IsObject(scaling)) ? scaling : NULL;
        where = "rope_scaling";
    }
    double theta = 0;
    if (get_double_or(c, c->root, "rope_theta", 10000.0, &theta)) return -1;
    if (params && get_double_or(c, params, "rope_theta", theta, &theta)) return -1;
    cfg->rope_theta = theta;

    double partial = 1;
    if (get_double_or(c, c->root, "partial_rotary_factor", 1.0, &partial)) return -1;
    if (params && get_double_or(c, params, "partial_rotary_factor", partial, &partial)) return -1;
    if (partial > 1.0) return hr_fail(c->e, "%s: field 'partial_rotary_factor' must be in (0, 1]", c->path);
    cfg->rotary_dim = (int)(cfg->head_dim * partial);
    if (cfg->rotary_dim % 2 != 0 || cfg->rotary_dim == 0)
        return hr_fail(c->e, "%s: field 'partial_rotary_factor' gives rotary dim %d (must be even and > 0)", c->path,
                       cfg->rotary_dim);

    cfg->rope_type = ROPE_DEFAULT;
    cfg->rope_factor = 1.0;
    if (params) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(params, "rope_type");
        if (!t) t = cJSON_GetObjectItemCaseSensitive(params, "type");
        const char *type = cJSON_IsString(t) ? t->valuestring : "default";
        if (strcmp(type, "linear") == 0) {
            cfg->rope_type = ROPE_LINEAR;
            if (get_double_or(c, params, "factor", 1.0, &cfg->rope_factor)) return -1;
        } else if (strcmp(type, "default") != 0) {
            return hr_fail(c->e, "%s: field '%s.rope_type' is '%s'; supported: default, linear", c->path, where, type);
        }
    }
    return 0;
}

int config_layer_kinds_alloc(struct model_config *cfg, struct hr_error *e)
{
    free(cfg->layer_kinds);
    cfg->layer_kinds = calloc((size_t)cfg->num_layers, sizeof *cfg->layer_kinds);
    return cfg->layer_kinds ? 0 : hr_fail(e, "%s: out of memory", cfg->path);
}

int config_layer_window(struct model_config *cfg, int fallback_window, struct hr_error *e)
{
    const struct json_ctx c = {cfg->path, cfg->json, e};
    int window = 0;
    if (get_int_or(&c, "sliding_window", 1, 0, &window)) return -1;
    bool any_sliding = false;
    for (int i = 0; i < cfg->num_layers; i++) any_sliding |= cfg->layer_kinds[i] == LAYER_SLIDING_ATTENTION;
    if (any_sliding && window <= 0) window = fallback_window;
    if (any_sliding && window <= 0)
        return hr_fail(e, "%s: field 'sliding_window' must be a positive integer when layers slide", cfg->path);
    cfg->sliding_window = any_sliding ? window : 0;
    return 0;
}

/* transformers' names; a family may add its own (config.h). */
static const struct layer_kind_spelling standard_names[] = {
    {"full_attention", LAYER_FULL_ATTENTION},
    {"sliding_attention", LAYER_SLIDING_ATTENTION},
    {"linear_attention", LAYER_LINEAR_ATTENTION},
};

static const struct layer_kind_spelling *find_spelling(const char *name, const struct layer_kind_spelling *aliases,
                                                       int num_aliases)
{
    for (size_t k = 0; k < sizeof standard_names / sizeof *standard_names; k++)
        if (strcmp(name, standard_names[k].name) == 0) return &standard_names[k];
    for (int k = 0; k < num_aliases; k++)
        if (strcmp(name, aliases[k].name) == 0) return &aliases[k];
    return NULL;
}

int config_layer_plan(struct model_config *cfg, const char *field, const struct layer_kind_spelling *aliases,
                      int num_aliases, int fallback_window, struct hr_error *e)
{
    const struct json_ctx c = {cfg->path, cfg->json, e};
    if (config_layer_kinds_alloc(cfg, e)) return -1;
    const cJSON *types = cJSON_GetObjectItemCaseSensitive(cfg->json, field);
    if (types && !cJSON_IsNull(types)) {
        if (!cJSON_IsArray(types) || cJSON_GetArraySize(types) != cfg->num_layers)
            return hr_fail(e, "%s: field '%s' must be an array of num_hidden_layers (%d) strings", cfg->path, field,
                           cfg->num_layers);
        for (int i = 0; i < cfg->num_layers; i++) {
            const cJSON *t = cJSON_GetArrayItem(types, i);
            if (!cJSON_IsString(t)) return hr_fail(e, "%s: field '%s'[%d] is not a string", cfg->path, field, i);
            const struct layer_kind_spelling *k = find_spelling(t->valuestring, aliases, num_aliases);
            if (!k) {
                char list[512] = "full_attention, sliding_attention, linear_attention";
                for (int a = 0; a < num_aliases; a++)
                    snprintf(list + strlen(list), sizeof list - strlen(list), ", %s", aliases[a].name);
                return hr_fail(e, "%s: field '%s'[%d] is '%s'; supported for %s: %s", cfg->path, field, i,
                               t->valuestring, cfg->model_type, list);
            }
            cfg->layer_kinds[i] = k->kind;
        }
    } else {
        /* Qwen2/Qwen3's older rule: layer i slides iff use_sliding_window
         * and i >= max_window_layers. */
        bool use_sw = false;
        int window = 0, max_window_layers = 0;
        if (get_bool_or(&c, "use_sliding_window", false, &use_sw) || get_int_or(&c, "sliding_window", 1, 0, &window) ||
            get_int_or(&c, "max_window_layers", 0, cfg->num_layers, &max_window_layers))
            return -1;
        for (int i = 0; i < cfg->num_layers; i++)
            cfg->layer_kinds[i] =
                use_sw && window > 0 && i >= max_window_layers ? LAYER_SLIDING_ATTENTION : LAYER_FULL_ATTENTION;
    }
    return config_layer_window(cfg, fallback_window, e);
}

/* eos_token_id may be an int, a list of ints, or null. */
static int parse_eos(const char *path, const cJSON *root, struct model_config *cfg, struct hr_error *e)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "eos_token_id");
    if (!v || cJSON_IsNull(v)) return 0;
    cfg->num_eos = 0;
    if (cJSON_IsNumber(v)) {
        cfg->eos_ids[cfg->num_eos++] = v->valueint;
        return 0;
    }
    if (!cJSON_IsArray(v)) return hr_fail(e, "%s: field 'eos_token_id' must be an integer or a list", path);
    for (const cJSON *it = v->child; it; it = it->next) {
        if (!cJSON_IsNumber(it)) return hr_fail(e, "%s: field 'eos_token_id' holds a non-integer", path);
        if (cfg->num_eos < 8) cfg->eos_ids[cfg->num_eos++] = it->valueint;
    }
    return 0;
}

/* Mixture of experts in transformers' Qwen-MoE spelling (num_experts,
 * num_experts_per_tok, moe_intermediate_size, ...): all optional here; a
 * family with another spelling (MiniMax's num_local_experts) reads it in its
 * arch file, and each binder requires the fields it uses. */
static int parse_moe_fields(const struct json_ctx *c, struct model_config *cfg)
{
    if (get_int_or(c, "num_experts", 0, 0, &cfg->num_experts) ||
        get_int_or(c, "num_experts_per_tok", 1, 1, &cfg->experts_per_token) ||
        get_int_or(c, "moe_intermediate_size", 1, 0, &cfg->moe_intermediate_size) ||
        get_int_or(c, "shared_expert_intermediate_size", 0, 0, &cfg->shared_expert_intermediate_size) ||
        get_int_or(c, "decoder_sparse_step", 1, 1, &cfg->decoder_sparse_step) ||
        get_bool_or(c, "norm_topk_prob", false, &cfg->norm_topk_prob))
        return -1;
    cfg->mlp_only = calloc((size_t)cfg->num_layers, sizeof *cfg->mlp_only);
    if (!cfg->mlp_only) return hr_fail(c->e, "%s: out of memory", c->path);
    const cJSON *only = cJSON_GetObjectItemCaseSensitive(c->root, "mlp_only_layers");
    if (only && !cJSON_IsNull(only)) {
        if (!cJSON_IsArray(only)) return hr_fail(c->e, "%s: field 'mlp_only_layers' must be a list", c->path);
        for (const cJSON *it = only->child; it; it = it->next) {
            if (!cJSON_IsNumber(it) || it->valueint < 0 || it->valueint >= cfg->num_layers)
                return hr_fail(c->e, "%s: field 'mlp_only_layers' holds %g, not a layer index", c->path,
                               it->valuedouble);
            cfg->mlp_only[it->valueint] = true;
        }
    }
    return 0;
}

int config_check(const struct model_config *cfg, struct hr_error *e)
{
    if (!cfg->layer_kinds) return hr_fail(e, "%s: no layer plan was read", cfg->path);
    if (cfg->num_experts && cfg->experts_per_token > cfg->num_experts)
        return hr_fail(e, "%s: field 'num_experts_per_tok' (%d) exceeds the number of experts (%d)", cfg->path,
                       cfg->experts_per_token, cfg->num_experts);
    return 0;
}

static int parse_config(const char *path, const cJSON *root, struct model_config *cfg, struct hr_error *e)
{
    struct json_ctx c = {path, root, e};
    snprintf(cfg->path, sizeof cfg->path, "%s", path);
    if (!cJSON_IsObject(root)) return hr_fail(e, "%s: not a JSON object", path);
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(root, "model_type");
    if (!cJSON_IsString(mt)) return hr_fail(e, "%s: required field 'model_type' is missing or not a string", path);
    snprintf(cfg->model_type, sizeof cfg->model_type, "%s", mt->valuestring);

    if (get_int(&c, "vocab_size", 1, &cfg->vocab_size) || get_int(&c, "hidden_size", 1, &cfg->hidden_size) ||
        get_int(&c, "intermediate_size", 1, &cfg->intermediate_size) ||
        get_int(&c, "num_hidden_layers", 1, &cfg->num_layers) ||
        get_int(&c, "num_attention_heads", 1, &cfg->num_heads) ||
        get_int_or(&c, "num_key_value_heads", 1, cfg->num_heads, &cfg->num_kv_heads) ||
        get_int_or(&c, "head_dim", 1, cfg->hidden_size / cfg->num_heads, &cfg->head_dim))
        return -1;
    if (cfg->num_heads % cfg->num_kv_heads != 0)
        return hr_fail(e, "%s: field 'num_key_value_heads' (%d) must divide num_attention_heads (%d)", path,
                       cfg->num_kv_heads, cfg->num_heads);
    if (get_double_or(&c, root, "rms_norm_eps", 1e-6, &cfg->rms_norm_eps)) return -1;
    int max_pos = 0;
    if (get_int_or(&c, "max_position_embeddings", 1, 0, &max_pos)) return -1;
    cfg->max_position_embeddings = max_pos;
    if (get_bool_or(&c, "attention_bias", false, &cfg->attention_bias)) return -1;
    if (get_bool_or(&c, "tie_word_embeddings", false, &cfg->tie_word_embeddings)) return -1;
    if (parse_rope(&c, cfg)) return -1;
    if (parse_moe_fields(&c, cfg)) return -1;
    /* MiniMax's residual scaling is 1 (plain residuals) unless its arch reads it. */
    cfg->linear_attn_alpha = cfg->linear_attn_beta = cfg->full_attn_alpha = cfg->full_attn_beta = 1.0;
    cfg->mlp_alpha = cfg->mlp_beta = 1.0;
    return parse_eos(path, root, cfg, e);
}

int config_parse_text(const char *label, const char *text, size_t len, struct model_config *cfg, struct hr_error *e)
{
    memset(cfg, 0, sizeof *cfg);
    cJSON *root = cJSON_ParseWithLength(text, len);
    if (!root) return hr_fail(e, "%s: not valid JSON", label);
    int rc = parse_config(label, root, cfg, e);
    cfg->json = root;
    snprintf(cfg->path, sizeof cfg->path, "%s", label);
    if (rc != 0) config_free(cfg);
    return rc;
}

int config_read(const char *config_path, const char *generation_path, struct model_config *cfg, struct hr_error *e)
{
    memset(cfg, 0, sizeof *cfg);
    long len;
    char *text = read_text_file(config_path, &len, e);
    if (!text) return -1;
    cJSON *root = cJSON_ParseWithLength(text, (size_t)len);
    free(text);
    if (!root) return hr_fail(e, "%s: not valid JSON", config_path);
    int rc = parse_config(config_path, root, cfg, e);
    cfg->json = root; /* kept for the architecture's own fields */
    snprintf(cfg->path, sizeof cfg->path, "%s", config_path);

    /* generation_config.json, when present, is what generate() reads for eos. */
    FILE *probe = rc == 0 && generation_path ? fopen(generation_path, "rb") : NULL;
    if (probe) {
        fclose(probe);
        text = read_text_file(generation_path, &len, e);
        root = text ? cJSON_ParseWithLength(text, (size_t)len) : NULL;
        free(text);
        if (!root)
            rc = hr_fail(e, "%s: not valid JSON", generation_path);
        else
            rc = parse_eos(generation_path, root, cfg, e);
        cJSON_Delete(root);
    }
    if (rc != 0) config_free(cfg);
    return rc;
}

void config_free(struct model_config *cfg)
{
    free(cfg->layer_kinds);
    free(cfg->mlp_only);
    cJSON_Delete(cfg->json);
    cfg->json = NULL;
    cfg->layer_kinds = NULL;
    cfg->mlp_only = NULL;
}
