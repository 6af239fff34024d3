/* libFuzzer target: a safetensors file (header + data) from a buffer. Every
 * input must be accepted or refused with a message; an accepted one must
 * only point inside the buffer (ASan checks the reads below). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/load/safetensors.h"
#include "stb_ds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1); /* exactly size bytes, so ASan sees overreads */
    memcpy(copy, data, size);
    struct st_file f;
    struct hr_error e;
    if (st_open_memory("fuzz.safetensors", copy, size, &f, &e) == 0) {
        volatile uint8_t sink = 0;
        for (ptrdiff_t i = 0; i < arrlen(f.tensors); i++) {
            const uint8_t *p = f.tensors[i].data;
            if (f.tensors[i].nbytes) sink ^= p[0] ^ p[f.tensors[i].nbytes - 1];
        }
        (void)sink;
        st_close_file(&f);
    }
    free(copy);
    return 0;
}
