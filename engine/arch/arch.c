#include "engine/arch/arch.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/arch/hypenet.h"
#include "engine/arch/jet_nemotron.h"
#include "engine/arch/minimax.h"
#include "engine/arch/qwen3.h"
#include "engine/arch/qwen3_next.h"

static const struct architecture *const registry[] = {
    &arch_qwen3, &arch_qwen3_next, &arch_minimax, &arch_hypenet, &arch_jet_nemotron,
};

const struct architecture *arch_find(const char *model_type)
{
    for (size_t i = 0; i < sizeof registry / sizeof registry[0]; i++)
        if (strcmp(registry[i]->model_type, model_type) == 0) return registry[i];
    return NULL;
}

const char *arch_supported_list(void)
{
    static char list[256];
    if (!list[0])
        for (size_t i = 0; i < sizeof registry / sizeof registry[0]; i++) {
            if (i) strcat(list, ", ");
            strcat(list, registry[i]->model_type);
        }
    return list;
}

int arch_config_read(const char *config_path, const char *generation_path, struct model_config *cfg,
                     const struct architecture **arch, struct hr_error *e)
{
    if (config_read(config_path, generation_path, cfg, e)) return -1;
    *arch = arch_find(cfg->model_type);
    if (!*arch) {
        hr_fail(e, "%s: field 'model_type' is '%s', an unknown architecture (supported: %s)", config_path,
                cfg->model_type, arch_supported_list());
        config_free(cfg);
        return -1;
    }
    if ((*arch)->read_config(cfg, e) || config_check(cfg, e)) {
        config_free(cfg);
        return -1;
    }
    return 0;
}

int arch_config_load(const char *dir, struct model_config *cfg, const struct architecture **arch, struct hr_error *e)
{
    struct stat st;
    if (stat(dir, &st) != 0)
        return hr_fail(e, "%s: no such model directory (it should hold config.json and model.safetensors)", dir);
    if (!S_ISDIR(st.st_mode))
        return hr_fail(e, "%s is a file; give the model directory that holds it (config.json, model.safetensors)", dir);
    char config_path[4200], generation_path[4200];
    snprintf(config_path, sizeof config_path, "%s/config.json", dir);
    snprintf(generation_path, sizeof generation_path, "%s/generation_config.json", dir);
    return arch_config_read(config_path, generation_path, cfg, arch, e);
}
