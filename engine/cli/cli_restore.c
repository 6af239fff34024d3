/* The restore flags shared by run (and niah): --restore-from BASE,
 * --restore qk|procrustes, --restore-layers, --procrustes-alpha, --restore-with. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cli/cli.h"
#include "engine/hyrecall.h"

/* --max-memory, shared by every command that loads a model: 0 means "the
 * memory the system reports available", -1 no limit. */
static int64_t max_memory = 0;

int64_t cli_max_memory(void)
{
    return max_memory;
}

int cli_restore_flag(const char *cmd, int argc, char **argv, int *i, struct restore_options *o, bool *matched)
{
    const char *a = argv[*i], *v;
    struct hr_error e;
    *matched = true;
    if (strcmp(a, "--restore-from") == 0) {
        if (!(o->base_dir = cli_value(cmd, argc, argv, i))) return -1;
    } else if (strcmp(a, "--restore") == 0) {
        if (!(v = cli_value(cmd, argc, argv, i))) return -1;
        if (restore_parse_method(v, o, &e)) return cli_usage_error(cmd, "%s", e.msg);
    } else if (strcmp(a, "--restore-layers") == 0) {
        if (!(v = cli_value(cmd, argc, argv, i))) return -1;
        if (restore_parse_layers(v, o, &e)) return cli_usage_error(cmd, "%s", e.msg);
    } else if (strcmp(a, "--restore-parts") == 0) {
        if (!(v = cli_value(cmd, argc, argv, i))) return -1;
        if (restore_parse_parts(v, o, &e)) return cli_usage_error(cmd, "%s", e.msg);
    } else if (strcmp(a, "--procrustes-side") == 0) {
        if (!(v = cli_value(cmd, argc, argv, i))) return -1;
        if (restore_parse_side(v, o, &e)) return cli_usage_error(cmd, "%s", e.msg);
    } else if (strcmp(a, "--restore-with") == 0) {
        if (!(v = cli_value(cmd, argc, argv, i))) return -1;
        if (restore_parse_with(v, o, &e)) return cli_usage_error(cmd, "%s", e.msg);
    } else if (strcmp(a, "--procrustes-alpha") == 0) {
        if (!(v = cli_value(cmd, argc, argv, i))) return -1;
        char *end;
        o->alpha = strtod(v, &end);
        if (end == v || *end || !(o->alpha >= 0 && o->alpha <= 1))
            return cli_usage_error(cmd, "--procrustes-alpha expects a number in [0, 1], got '%s'", v);
    } else if (strcmp(a, "--max-memory") == 0) {
        if (!(v = cli_value(cmd, argc, argv, i))) return -1;
        max_memory = memory_parse_size(v);
        if (max_memory == 0)
            return cli_usage_error(cmd, "--max-memory expects a size like 20G or 'unlimited', got '%s'", v);
    } else {
        *matched = false;
    }
    return 0;
}

int cli_load_model(const char *cmd, const char *dir, const struct restore_options *o, int64_t context, struct model *m)
{
    struct hr_error e;
    if (model_load_within(dir, o, context, cli_max_memory(), m, &e) == 0) return 0;
    fprintf(stderr, "hyrecall %s: %s\n", cmd, e.msg);
    return -1;
}
