/* The restore flags shared by run (and niah): --restore-from BASE,
 * --restore qk|procrustes, --restore-layers, --procrustes-alpha, --restore-with. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

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
    } else if (strcmp(a, "--restore-with") == 0) {
        if (!(v = cli_value(cmd, argc, argv, i))) return -1;
        if (restore_parse_with(v, o, &e)) return cli_usage_error(cmd, "%s", e.msg);
    } else if (strcmp(a, "--procrustes-alpha") == 0) {
        if (!(v = cli_value(cmd, argc, argv, i))) return -1;
        char *end;
        o->alpha = strtod(v, &end);
        if (end == v || *end || !(o->alpha >= 0 && o->alpha <= 1))
            return cli_usage_error(cmd, "--procrustes-alpha expects a number in [0, 1], got '%s'", v);
    } else {
        *matched = false;
    }
    return 0;
}

int cli_load_model(const char *cmd, const char *dir, const struct restore_options *o, struct model *m)
{
    struct hr_error e;
    int rc = o->base_dir ? restore_load_model(dir, o, m, &e) : model_load(dir, m, &e);
    if (rc != 0) fprintf(stderr, "hyrecall %s: %s\n", cmd, e.msg);
    return rc;
}
