/* libFuzzer target: config.json text. Accepted or refused, never a crash;
 * an accepted config's family fields (engine/arch/) are read or refused. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/arch/arch.h"
#include "engine/load/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    struct model_config c;
    struct hr_error e;
    if (config_parse_text("fuzz/config.json", text, size, &c, &e) == 0) {
        /* Then the family's own spellings, as arch_config_read does. */
        const struct architecture *arch = arch_find(c.model_type);
        if (arch && arch->read_config(&c, &e) == 0) config_check(&c, &e);
        config_free(&c);
    }
    free(text);
    return 0;
}
