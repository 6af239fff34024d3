#include "engine/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/arch/arch.h"
#include "engine/base/files.h"
#include "engine/layers/block.h"
#include "engine/load/weight_binder.h"
#include "stb_ds.h"

/* Every tensor in the checkpoint must have been bound: an extra tensor means
 * the config and the weights disagree (or the architecture is not what the
 * config says), which we refuse rather than silently ignore. */
static int check_unexpected(struct weight_binder *b)
{
    const struct st_archive *a = &b->m->weights;
    for (ptrdiff_t fi = 0; fi < arrlen(a->files); fi++)
        for (ptrdiff_t ti = 0; ti < arrlen(a->files[fi].tensors); ti++) {
            const struct st_tensor *t = &a->files[fi].tensors[ti];
            if (shgeti(b->used, t->name) < 0)
                return hr_fail(b->e, "%s: unexpected tensor '%s' (not part of a %s model with this config.json)",
                               t->path, t->name, b->m->cfg.model_type);
        }
    return 0;
}

void tensor_patches_free(struct tensor_patch *patches)
{
    for (ptrdiff_t i = 0; i < shlen(patches); i++) free(patches[i].value);
    shfree(patches);
}

int model_load(const char *dir, struct model *m, struct hr_error *e)
{
    return model_load_patched(dir, NULL, m, e);
}

int model_load_patched(const char *dir, struct tensor_patch *patches, struct model *m, struct hr_error *e)
{
    memset(m, 0, sizeof *m);
    m->dir = strdup(dir);
    m->patches = patches;
    if (arch_config_load(dir, &m->cfg, &m->arch, e) != 0) goto fail;
    if (st_open_dir(dir, &m->weights, e) != 0) goto fail;
    m->layers = calloc((size_t)m->cfg.num_layers, sizeof *m->layers);
    if (!m->layers) {
        hr_fail(e, "%s: out of memory", dir);
        goto fail;
    }
    struct weight_binder b = {.m = m, .e = e, .used = NULL};
    sh_new_strdup(b.used);
    int rc = m->arch->bind(&b, m);
    if (rc == 0) rc = check_unexpected(&b);
    shfree(b.used);
    for (ptrdiff_t i = 0; rc == 0 && i < shlen(m->patches); i++)
        if (!st_find(&m->weights, m->patches[i].key))
            rc = hr_fail(e, "%s: patched tensor '%s' is not in the checkpoint", dir, m->patches[i].key);
    if (rc != 0) goto fail;
    return 0;
fail:
    model_free(m);
    return -1;
}

const char *mixer_kind_name(enum mixer_kind k)
{
    return block_kind(k)->name;
}

int model_plan(const char *config_path, struct model *m, struct wanted_tensor **wanted, struct hr_error *e)
{
    memset(m, 0, sizeof *m);
    *wanted = NULL;
    /* A file named config.json reads its directory's generation_config.json
     * too (as a model directory does); a config under any other name alone. */
    char dir[4096], generation[4200];
    snprintf(dir, sizeof dir, "%s", config_path);
    char *slash = strrchr(dir, '/');
    const bool in_model_dir = strcmp(slash ? slash + 1 : dir, "config.json") == 0;
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    snprintf(generation, sizeof generation, "%s/generation_config.json", dir);
    m->dir = strdup(in_model_dir ? dir : config_path);
    if (arch_config_read(config_path, in_model_dir ? generation : NULL, &m->cfg, &m->arch, e) != 0) goto fail;
    m->layers = calloc((size_t)m->cfg.num_layers, sizeof *m->layers);
    struct weight_binder b = {.m = m, .e = e, .collect = true};
    sh_new_strdup(b.used);
    int rc = m->arch->bind(&b, m);
    shfree(b.used);
    *wanted = b.wanted;
    if (rc != 0) goto fail;
    return 0;
fail:
    wanted_tensors_free(*wanted);
    *wanted = NULL;
    model_free(m);
    return -1;
}

void wanted_tensors_free(struct wanted_tensor *wanted)
{
    for (ptrdiff_t i = 0; i < arrlen(wanted); i++) free(wanted[i].name);
    arrfree(wanted);
}

void model_free(struct model *m)
{
    if (m->layers)
        for (int i = 0; i < m->cfg.num_layers; i++) {
            free(m->layers[i].moe.experts);
            free(m->layers[i].lightning.log_decay);
        }
    for (ptrdiff_t i = 0; i < arrlen(m->owned); i++) free(m->owned[i]);
    arrfree(m->owned);
    tensor_patches_free(m->patches);
    free(m->layers);
    st_close_archive(&m->weights);
    config_free(&m->cfg);
    free(m->dir);
    memset(m, 0, sizeof *m);
}

const char *model_context_warning(const struct model *m, int64_t context)
{
    static char text[4400];
    const int64_t trained = m->cfg.max_position_embeddings;
    if (trained <= 0 || context <= trained) return NULL;
    snprintf(text, sizeof text,
             "warning: %s: max_position_embeddings is %lld, and this run goes to %lld tokens, past the context "
             "the model was trained for",
             m->cfg.path, (long long)trained, (long long)context);
    return text;
}
