/* hyrecall tokenize: text to ids and back with a tokenizer.json. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cli/cli.h"
#include "tokenizer/tokenizer.h"

static const char *HELP =
    "usage: hyrecall tokenize -t TOKENIZER_JSON (TEXT | -)\n"
    "       hyrecall tokenize -t TOKENIZER_JSON --decode IDS\n\n"
    "Prints the ids of TEXT on one line, separated by single spaces (special-token strings such\n"
    "as <|im_start|> are recognised). '-' reads the text from standard input, byte for byte (no\n"
    "newline stripped). --decode takes ids (comma or space separated) and prints their text and a newline.\n\n"
    "exit codes: 0 ok, 1 invalid tokenizer or ids, 2 usage error\n";

static char *read_stdin(size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, stdin)) > 0) {
        n += got;
        if (n == cap) buf = realloc(buf, cap *= 2);
    }
    *len = n;
    return buf;
}

int cmd_tokenize(int argc, char **argv)
{
    const char *path = NULL, *text = NULL, *decode = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(HELP, stdout);
            return EXIT_OK;
        } else if (strcmp(a, "-t") == 0 || strcmp(a, "--tokenizer") == 0) {
            if (!(path = cli_value("tokenize", argc, argv, &i))) return EXIT_USAGE;
        } else if (strcmp(a, "--decode") == 0) {
            if (!(decode = cli_value("tokenize", argc, argv, &i))) return EXIT_USAGE;
        } else if (a[0] == '-' && a[1] != '\0') {
            cli_unknown_option("tokenize", a, HELP);
            return EXIT_USAGE;
        } else if (!text) {
            text = a;
        } else {
            cli_usage_error("tokenize", "unexpected argument '%s' (quote the text)", a);
            return EXIT_USAGE;
        }
    }
    if (!path || (!text && !decode) || (text && decode)) {
        cli_usage_error("tokenize", "needs -t TOKENIZER_JSON and either TEXT, '-' or --decode IDS");
        return EXIT_USAGE;
    }
    int32_t *ids = NULL;
    int n = 0;
    if (decode && cli_parse_ids("tokenize", "--decode", decode, &ids, &n)) return EXIT_USAGE;
    struct tokenizer *t;
    struct hr_error e;
    if (tok_load(path, &t, &e) != 0) {
        fprintf(stderr, "hyrecall tokenize: %s\n", e.msg);
        free(ids);
        return EXIT_RUNTIME;
    }
    int rc = EXIT_OK;
    if (decode) {
        char *out;
        size_t len;
        if (tok_decode(t, ids, n, &out, &len, &e) != 0) {
            fprintf(stderr, "hyrecall tokenize: %s\n", e.msg);
            rc = EXIT_RUNTIME;
        } else {
            fwrite(out, 1, len, stdout);
            fputc('\n', stdout); /* a line, as the ids are printed (the text's own bytes before it) */
            free(out);
        }
    } else {
        size_t len;
        char *input = strcmp(text, "-") == 0 ? read_stdin(&len) : (len = strlen(text), strdup(text));
        if (tok_encode(t, input, len, &ids, &n, &e) != 0) {
            fprintf(stderr, "hyrecall tokenize: %s\n", e.msg);
            rc = EXIT_RUNTIME;
        } else {
            for (int i = 0; i < n; i++) printf(i ? " %d" : "%d", ids[i]);
            printf("\n");
        }
        free(input);
    }
    free(ids);
    tok_free(t);
    return rc;
}
