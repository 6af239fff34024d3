/* --compare NAME=DIR[+METHOD@BASE],...: the variants of an A/B run (niah, eval). */
#include <stdio.h>
#include <string.h>

#include "engine/cli/cli.h"

int cli_parse_variants(const char *cmd, const char *text, struct variant *out, int max, int *n)
{
    char buf[8192], *save = NULL;
    snprintf(buf, sizeof buf, "%s", text);
    *n = 0;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq || eq == tok || !eq[1] || *n >= max || (size_t)(eq - tok) >= sizeof out->name)
            return cli_usage_error(cmd, "--compare expects NAME=DIR[+qk@BASE],... (at most %d), got '%s'", max, tok);
        struct variant *v = &out[(*n)++];
        memset(v, 0, sizeof *v);
        snprintf(v->name, sizeof v->name, "%.*s", (int)(eq - tok), tok);
        for (int k = 0; k < *n - 1; k++)
            if (strcmp(out[k].name, v->name) == 0)
                return cli_usage_error(cmd, "--compare names the variant '%s' twice", v->name);
        char *plus = strchr(eq + 1, '+');
        if (plus) {
            *plus = '\0';
            char *at = strchr(plus + 1, '@');
            struct hr_error e;
            if (!at || !at[1]) return cli_usage_error(cmd, "--compare: '%s' needs METHOD@BASE_DIR after '+'", v->name);
            *at = '\0';
            struct restore_options ro;
            restore_options_default(&ro);
            if (strlen(plus + 1) >= sizeof v->restore || restore_parse_spec(plus + 1, &ro, &e))
                return cli_usage_error(cmd, "--compare: variant '%s': %s", v->name,
                                       strlen(plus + 1) >= sizeof v->restore ? "restore too long" : e.msg);
            snprintf(v->restore, sizeof v->restore, "%s", plus + 1);
            snprintf(v->base, sizeof v->base, "%s", at + 1);
        }
        snprintf(v->dir, sizeof v->dir, "%s", eq + 1);
    }
    return *n ? 0 : cli_usage_error(cmd, "--compare is empty");
}
