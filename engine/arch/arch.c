#include "engine/arch/arch.h"

#include <string.h>

#include "engine/arch/hypenet.h"
#include "engine/arch/jet_nemotron.h"
#include "engine/arch/minimax.h"
#include "engine/arch/qwen3.h"
#include "engine/arch/qwen3_next.h"

static const struct architecture *const registry[] = {
    &arch_qwen3,
    &arch_qwen3_next,
    &arch_minimax,
    &arch_hypenet,
    &arch_jet_nemotron,
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
