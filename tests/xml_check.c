/* A well-formedness check for the SVG heat maps (XML 1.0, the subset they
 * use): elements nest and close, attribute values are quoted, text has no
 * bare '<' or '&' outside entity references.   xml_check FILE... */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return fprintf(stderr, "%s: cannot open\n", path), 1;
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char stack[64][64];
    int depth = 0, roots = 0;
    const char *p = buf;
    if (strncmp(p, "<?xml", 5) == 0) p = strstr(p, "?>") + 2;
    while (*p) {
        if (*p == '<') {
            const char *end = strchr(p, '>');
            if (!end) return fprintf(stderr, "%s: unterminated tag\n", path), 1;
            bool closing = p[1] == '/', empty = end[-1] == '/';
            const char *name = p + 1 + closing;
            size_t len = strcspn(name, " \t\n/>");
            if (!len || len >= 64) return fprintf(stderr, "%s: bad tag name\n", path), 1;
            /* attributes: name="value" pairs */
            for (const char *a = name + len; a < end - empty;) {
                while (a < end && (*a == ' ' || *a == '\n' || *a == '\t')) a++;
                if (a >= end - empty) break;
                const char *eq = strchr(a, '=');
                if (!eq || eq > end || (eq[1] != '"' && eq[1] != '\''))
                    return fprintf(stderr, "%s: unquoted attribute\n", path), 1;
                const char *close = strchr(eq + 2, eq[1]);
                if (!close || close > end) return fprintf(stderr, "%s: unterminated attribute\n", path), 1;
                a = close + 1;
            }
            if (closing) {
                if (!depth || strncmp(stack[depth - 1], name, len) != 0 || stack[depth - 1][len])
                    return fprintf(stderr, "%s: mismatched </%.*s>\n", path, (int)len, name), 1;
                depth--;
            } else if (!empty) {
                if (depth == 0) roots++;
                memcpy(stack[depth], name, len);
                stack[depth++][len] = '\0';
            } else if (depth == 0) {
                roots++;
            }
            p = end + 1;
        } else if (*p == '&') {
            const char *semi = strchr(p, ';');
            if (!semi || semi - p > 8) return fprintf(stderr, "%s: bare '&'\n", path), 1;
            p = semi + 1;
        } else {
            p++;
        }
    }
    if (depth || roots != 1) return fprintf(stderr, "%s: %d unclosed elements, %d roots\n", path, depth, roots), 1;
    return 0;
}

int main(int argc, char **argv)
{
    int bad = 0;
    for (int i = 1; i < argc; i++) bad |= check(argv[i]);
    if (!bad) printf("%d file(s) well-formed\n", argc - 1);
    return bad;
}
