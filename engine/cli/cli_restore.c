/* The flags shared by the commands that load a model: --restore-from BASE,
 * --restore qk|procrustes, --restore-layers, --procrustes-alpha, --restore-with, --max-memory, --compute. */
#include <stdbool.h>
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

/* The first restore option given that only means something with a base
 * (for cli_restore_check's message). */
static const char *restore_flag_seen;

/* Each shared flag and its other spelling (hyrecall restore's short one):
 * both are accepted everywhere, the first is documented. */
static bool is(const char *a, const char *name, const char *alias)
{
    return strcmp(a, name) == 0 || (alias && strcmp(a, alias) == 0);
}

int cli_restore_flag(const char *cmd, int argc, char **argv, int *i, struct restore_options *o, bool *matched)
{
    const char *a = argv[*i], *v;
    struct hr_error e;
    *matched = true;
    if (is(a, "--restore-from", NULL)) {
        if (!(o->base_dir = cli_value(cmd, argc, argv, i))) return -1;
        return 0;
    }
    /* --compute: how every projection multiplies (ops.h), for the whole run;
     * restore writes weights and computes nothing, so it has no --compute. */
    if (is(a, "--compute", NULL) && strcmp(cmd, "restore") != 0) {
        if (!(v = cli_value(cmd, argc, argv, i))) return -1;
        if (strcmp(v, "f32") != 0 && strcmp(v, "bf16") != 0)
            return cli_usage_error(cmd, "--compute expects f32 or bf16, got '%s'", v);
        if (linear_set_compute(strcmp(v, "bf16") == 0 ? COMPUTE_BF16 : COMPUTE_F32, &e)) {
            fprintf(stderr, "hyrecall %s: %s\n", cmd, e.msg);
            return -1;
        }
        return 0;
    }
    if (is(a, "--max-memory", NULL)) {
        if (!(v = cli_value(cmd, argc, argv, i))) return -1;
        max_memory = memory_parse_size(v);
        if (max_memory == 0)
            return cli_usage_error(cmd, "--max-memory expects a size like 20G, 20GiB or 'unlimited', got '%s'", v);
        return 0;
    }
    int bad = 0;
    if (is(a, "--restore", "--method")) {
        if (!(v = cli_value(cmd, argc, argv, i))) return -1;
        bad = restore_parse_method(v, o, &e);
    } else if (is(a, "--restore-layers", "--layers")) {
        if (!(v = cli_value(cmd, argc, argv, i))) return -1;
        bad = restore_parse_layers(v, o, &e);
    } else if (is(a, "--restore-parts", "--parts")) {
        if (!(v = cli_value(cmd, argc, argv, i))) return -1;
        bad = restore_parse_parts(v, o, &e);
    } else if (is(a, "--procrustes-side", NULL)) {
        if (!(v = cli_value(cmd, argc, argv, i))) return -1;
        bad = restore_parse_side(v, o, &e);
    } else if (is(a, "--restore-with", "--with")) {
        if (!(v = cli_value(cmd, argc, argv, i))) return -1;
        bad = restore_parse_with(v, o, &e);
    } else if (is(a, "--procrustes-alpha", "--alpha")) {
        if (!(v = cli_value(cmd, argc, argv, i))) return -1;
        char *end;
        o->alpha = strtod(v, &end);
        if (end == v || *end || !(o->alpha >= 0 && o->alpha <= 1))
            return cli_usage_error(cmd, "%s expects a number in [0, 1], got '%s'", a, v);
    } else {
        *matched = false;
        return 0;
    }
    if (bad) return cli_usage_error(cmd, "%s", e.msg);
    if (!restore_flag_seen) restore_flag_seen = a;
    return 0;
}

int cli_restore_check(const char *cmd, const struct restore_options *o, bool restored_elsewhere)
{
    if (restore_flag_seen && !o->base_dir && !restored_elsewhere)
        return cli_usage_error(cmd,
                               "%s needs --restore-from BASE (the checkpoint to restore from); without it "
                               "nothing would be restored",
                               restore_flag_seen);
    return 0;
}

int cli_load_model(const char *cmd, const char *dir, const struct restore_options *o, int64_t context, struct model *m)
{
    struct hr_error e;
    if (model_load_within(dir, o, context, 0, cli_max_memory(), m, &e) == 0) return 0;
    fprintf(stderr, "hyrecall %s: %s\n", cmd, e.msg);
    return -1;
}

void cli_warn_context(const char *cmd, const struct model *m, int64_t tokens)
{
    const char *warning = model_context_warning(m, tokens);
    if (warning) fprintf(stderr, "hyrecall %s: %s\n", cmd, warning);
}
