/* libFuzzer target: the tokenizer. Inputs starting with '{' are parsed as a
 * tokenizer.json (accepted or refused, and an accepted one encodes a short
 * text); any other input is text encoded and decoded with the real Qwen3
 * tokenizer, which must round-trip the bytes exactly. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tokenizer.h"

static struct tokenizer *qwen3;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hr_error e;
    if (size && data[0] == '{') {
        struct tokenizer *t;
        if (tok_load_text("fuzz/tokenizer.json", (const char *)data, size, &t, &e) == 0) {
            int32_t *ids;
            int n;
            if (tok_encode(t, "Hello world, 123!", 17, &ids, &n, &e) == 0) free(ids);
            tok_free(t);
        }
        return 0;
    }
    if (!qwen3 && tok_load(HYRECALL_QWEN3_TOKENIZER, &qwen3, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        abort();
    }
    int32_t *ids;
    int n;
    if (tok_encode(qwen3, (const char *)data, size, &ids, &n, &e)) abort();
    char *back;
    size_t len;
    if (tok_decode(qwen3, ids, n, &back, &len, &e)) abort();
    /* Byte-exact round trip holds for text that NFC leaves unchanged; check
     * the ASCII case, where it always holds. */
    bool ascii = true;
    for (size_t i = 0; i < size; i++) ascii &= data[i] < 0x80;
    if (ascii && (len != size || memcmp(back, data, size) != 0)) abort();
    free(back);
    free(ids);
    return 0;
}
