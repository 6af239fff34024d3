/* Tokenizer encode throughput, single thread.
 *
 *   bench_tokenizer TOKENIZER_JSON [TEXT_FILE] [MEGABYTES]
 *
 * Encodes the text (default: /usr/share/common-licenses/GPL-3, English legal
 * prose shipped with every Debian system), repeated to MEGABYTES (default 4),
 * three times, and prints the best MB/s. The first pass fills the word cache,
 * as a long haystack does after its first few thousand words. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/base/clock.h"
#include "engine/base/files.h"
#include "tokenizer/tokenizer.h"

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_tokenizer TOKENIZER_JSON [TEXT_FILE] [MEGABYTES]\n");
        return 2;
    }
    const char *text_path = argc > 2 ? argv[2] : "/usr/share/common-licenses/GPL-3";
    const double mb = argc > 3 ? atof(argv[3]) : 4.0;
    struct hr_error e;
    struct tokenizer *t;
    double t0 = clock_seconds();
    if (tok_load(argv[1], &t, &e) != 0) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    double load_s = clock_seconds() - t0;
    long len;
    char *src = read_text_file(text_path, &len, &e);
    if (!src || len == 0) {
        fprintf(stderr, "%s\n", src ? "empty text" : e.msg);
        return 1;
    }
    size_t total = (size_t)(mb * 1e6);
    char *text = malloc(total);
    for (size_t i = 0; i < total; i += (size_t)len)
        memcpy(text + i, src, total - i < (size_t)len ? total - i : (size_t)len);
    double best = 1e30;
    int n = 0;
    for (int rep = 0; rep < 3; rep++) {
        int32_t *ids;
        t0 = clock_seconds();
        if (tok_encode(t, text, total, &ids, &n, &e) != 0) {
            fprintf(stderr, "%s\n", e.msg);
            return 1;
        }
        double dt = clock_seconds() - t0;
        best = dt < best ? dt : best;
        free(ids);
    }
    printf("tokenizer load      %.2f s (%s)\n", load_s, argv[1]);
    printf("text                %s, repeated to %.1f MB\n", text_path, total / 1e6);
    printf("encode              %.2f MB/s single thread (%d tokens, %.0f tokens/s, best of 3)\n", total / 1e6 / best, n,
           n / best);
    free(text);
    free(src);
    tok_free(t);
    return 0;
}
