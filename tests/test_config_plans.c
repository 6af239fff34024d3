/* The published configs of data/configs/ (HypeNet-2B, HypeNet-9B, Jet-Nemotron-2B) against the
 * published PyTorch models built from the same files:
 *   - hyrecall's plan (model_plan: the tensors `synth` writes and `inspect` counts) has the parameter
 *     count and number of tensors of the published model (reference: PARAM_COUNTS, written by
 *     tools/published_goldens/param_counts.py on the device, transformers 5.17.0, torch 2.11.0);
 *   - each layer's mixer and window are what the config's layer list says (read here directly).
 *
 *   test_config_plans CONFIG_DIR PARAM_COUNTS_JSON */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "engine/model.h"
#include "stb_ds.h"
#include "tests/test_util.h"

static cJSON *read_json(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)n + 1);
    text[fread(text, 1, (size_t)n, f)] = 0;
    fclose(f);
    cJSON *j = cJSON_Parse(text);
    free(text);
    return j;
}

/* The mixer and window a layer-list entry names: HypeNet's mixer_types, Jet-Nemotron's layer_types. */
static void expected_layer(const char *kind, int swa_window, enum mixer_kind *mixer, int *window)
{
    *window = 0;
    if (strcmp(kind, "lightning-attn") == 0)
        *mixer = MIXER_LIGHTNING;
    else if (strcmp(kind, "jet") == 0)
        *mixer = MIXER_JET;
    else if (strcmp(kind, "swa") == 0)
        *mixer = MIXER_SOFTMAX_ATTENTION, *window = swa_window;
    else
        *mixer = MIXER_SOFTMAX_ATTENTION; /* "attn" */
}

/* DIR/FILE.json against the published model NAME of the reference. */
static void check_config(const char *dir, const char *file, const char *name, const cJSON *reference, double hype_a)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.json", dir, file);
    struct model m;
    struct wanted_tensor *wanted;
    struct hr_error e;
    if (model_plan(path, &m, &wanted, &e) != 0) {
        CHECK(0, "%s: %s", name, e.msg);
        return;
    }
    const cJSON *ref = cJSON_GetObjectItem(cJSON_GetObjectItem(reference, "models"), name);
    const double want_params = cJSON_GetNumberValue(cJSON_GetObjectItem(ref, "parameters"));
    const double want_tensors = cJSON_GetNumberValue(cJSON_GetObjectItem(ref, "tensors"));
    printf("  %-22s %lld parameters in %td tensors (published model: %.0f in %.0f)\n", file, (long long)m.num_params,
           arrlen(wanted), want_params, want_tensors);
    CHECK((double)m.num_params == want_params, "%s: %lld parameters, published model %.0f", name,
          (long long)m.num_params, want_params);
    CHECK((double)arrlen(wanted) == want_tensors, "%s: %td tensors, published model %.0f", name, arrlen(wanted),
          want_tensors);

    cJSON *cfg = read_json(path);
    const cJSON *list = cJSON_GetObjectItem(cfg, "mixer_types");
    if (!list) list = cJSON_GetObjectItem(cfg, "layer_types");
    const cJSON *swa = cJSON_GetObjectItem(
        cJSON_GetObjectItem(cJSON_GetObjectItem(cfg, "efficient_attention_config"), "swa"), "window_size");
    CHECK(cJSON_GetArraySize(list) == m.cfg.num_layers, "%s: %d layers, the config lists %d", name, m.cfg.num_layers,
          cJSON_GetArraySize(list));
    for (int i = 0; i < m.cfg.num_layers && i < cJSON_GetArraySize(list); i++) {
        enum mixer_kind mixer;
        int window;
        expected_layer(cJSON_GetStringValue(cJSON_GetArrayItem(list, i)), swa ? (int)swa->valuedouble : 0, &mixer,
                       &window);
        CHECK(m.layers[i].mixer == mixer && m.layers[i].window == window, "%s layer %d: %s window %d, config says %s",
              name, i, mixer_kind_name(m.layers[i].mixer), m.layers[i].window,
              cJSON_GetStringValue(cJSON_GetArrayItem(list, i)));
        /* HyPE on the softmax layers of the inference config only (hype.h). */
        if (m.layers[i].mixer == MIXER_SOFTMAX_ATTENTION) {
            const struct query_scaling *q = &m.layers[i].attn.q_scaling;
            CHECK(hype_a ? q->kind == QUERY_SCALING_HYPE && q->value == hype_a : q->kind == QUERY_SCALING_NONE,
                  "%s layer %d: query scaling %d (%g), expected %s", file, i, (int)q->kind, q->value,
                  hype_a ? "hype" : "none");
        }
    }
    cJSON_Delete(cfg);
    wanted_tensors_free(wanted);
    model_free(&m);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: test_config_plans CONFIG_DIR PARAM_COUNTS_JSON\n");
        return 2;
    }
    cJSON *reference = read_json(argv[2]);
    if (!reference) {
        fprintf(stderr, "test_config_plans: cannot read %s\n", argv[2]);
        return 1;
    }
    const char *names[] = {"hypenet-2b", "hypenet-9b", "jet-nemotron-2b"};
    for (int i = 0; i < 3; i++) check_config(argv[1], names[i], names[i], reference, 0);
    /* The released HypeNet-2B as its README runs it: the same model, HyPE "hype 500". */
    check_config(argv[1], "hypenet-2b-inference", "hypenet-2b", reference, 500);
    cJSON_Delete(reference);
    return test_finish("test_config_plans");
}
