/* libFuzzer target: scoring prediction JSONL (niah score), and writing the
 * reports of whatever it accepted. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "niah/niah_report.h"
#include "niah/niah_score.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    struct niah_result *r;
    int n;
    struct hr_error e;
    if (niah_score_jsonl("fuzz.jsonl", text, &r, &n, &e) == 0) {
        static char dir[64];
        if (!dir[0]) {
            snprintf(dir, sizeof dir, "/tmp/hyrecall-fuzz-XXXXXX");
            if (!mkdtemp(dir)) abort();
        }
        FILE *devnull = freopen("/dev/null", "w", stdout); /* the table printout */
        (void)devnull;
        niah_write_reports(dir, r, n, false, NULL, &e);
        free(r);
    }
    free(text);
    return 0;
}
