/* BF16 matrices are used from the mmap only when their data is 2-byte
 * aligned (safetensors does not promise it: data offsets count from the end
 * of a header of any length). This test shifts a BF16 checkpoint's data to odd
 * addresses by padding its header with one more space, and checks that
 *   - the aligned file binds BF16 views, the shifted one float32 copies;
 *   - both give the same bits: prompt logits and decode steps (the BF16 kernels
 *     and the float32 ones share one summation order, engine/ops/matvec.h).
 *
 *   test_bf16_alignment MODEL_DIR      (an F32 golden checkpoint, e.g. tests/goldens/qwen3_swa) */
#include <stdlib.h>
#include <string.h>

#include "engine/model.h"
#include "engine/ops/cpu.h"
#include "engine/session.h"
#include "tests/test_util.h"

/* DST/model.safetensors = SRC's with the header one byte longer (a trailing
 * space, which JSON allows): every tensor's data moves by one byte. */
static int shift_data_by_one(const char *src_dir, const char *dst_dir)
{
    char from[4096], to[4096];
    snprintf(from, sizeof from, "%s/model.safetensors", src_dir);
    snprintf(to, sizeof to, "%s/model.safetensors", dst_dir);
    FILE *in = fopen(from, "rb");
    if (!in) return -1;
    fseek(in, 0, SEEK_END);
    const long size = ftell(in);
    fseek(in, 0, SEEK_SET);
    unsigned char *bytes = malloc((size_t)size);
    const bool read_ok = fread(bytes, 1, (size_t)size, in) == (size_t)size;
    fclose(in);
    uint64_t n = 0;
    for (int i = 0; i < 8; i++) n |= (uint64_t)bytes[i] << (8 * i);
    FILE *out = read_ok ? fopen(to, "wb") : NULL;
    if (!out) {
        free(bytes);
        return -1;
    }
    unsigned char hdr[8];
    for (int i = 0; i < 8; i++) hdr[i] = (unsigned char)((n + 1) >> (8 * i));
    int ok = fwrite(hdr, 1, 8, out) == 8 && fwrite(bytes + 8, 1, (size_t)n, out) == (size_t)n &&
             fputc(' ', out) == ' ' &&
             fwrite(bytes + 8 + n, 1, (size_t)size - 8 - (size_t)n, out) == (size_t)size - 8 - (size_t)n;
    ok &= fclose(out) == 0;
    free(bytes);
    snprintf(from, sizeof from, "%s/config.json", src_dir);
    snprintf(to, sizeof to, "%s/config.json", dst_dir);
    return ok && copy_file(from, to) == 0 ? 0 : -1;
}

/* Loads DIR into m (left loaded for the caller to inspect), prefills the
 * ids and feeds `steps` of them back one at a time; *logits gets the T prompt
 * rows then the step rows. */
static int run(const char *dir, const int32_t *ids, int T, int steps, float **logits, struct model *m)
{
    struct hr_error e;
    struct session s;
    if (model_load(dir, m, &e) != 0 || session_init(&s, m, 0, &e) != 0) {
        fprintf(stderr, "%s\n", e.msg);
        return -1;
    }
    const int64_t V = m->cfg.vocab_size;
    *logits = malloc((size_t)((T + steps) * V) * sizeof(float));
    int rc = session_forward(&s, ids, T, *logits, true, &e);
    for (int i = 0; i < steps && rc == 0; i++)
        rc = session_forward(&s, &ids[i], 1, *logits + (int64_t)(T + i) * V, false, &e);
    session_free(&s);
    return rc;
}

int main(int argc, char **argv)
{
    cpu_select_openblas_core(argv);
    if (argc != 2) {
        fprintf(stderr, "usage: test_bf16_alignment MODEL_DIR\n");
        return 2;
    }
    char *aligned = make_temp_dir("bf16-aligned"), *shifted = make_temp_dir("bf16-shifted");
    if (!aligned || !shifted || convert_checkpoint(argv[1], aligned, DT_BF16, DT_BF16) != 0 ||
        shift_data_by_one(aligned, shifted) != 0)
        return 1;

    enum { T = 64, STEPS = 8 };
    int32_t ids[T];
    for (int i = 0; i < T; i++) ids[i] = (int32_t)((i * 37 + 11) % 97);
    struct model ma, ms;
    float *la, *ls;
    if (run(aligned, ids, T, STEPS, &la, &ma) != 0 || run(shifted, ids, T, STEPS, &ls, &ms) != 0) return 1;
    const int64_t V = ma.cfg.vocab_size;
    const struct weight *wa = &ma.layers[0].mlp.gate, *ws = &ms.layers[0].mlp.gate;
    printf("aligned file: mlp.gate bound as %s, %lld bytes converted; shifted file: %s, %lld bytes converted\n",
           wa->bf16 ? "a BF16 view" : "float32", (long long)ma.owned_bytes, ws->bf16 ? "a BF16 view" : "float32",
           (long long)ms.owned_bytes);
    CHECK(wa->bf16 && !wa->f32, "aligned BF16 matrix was not bound as a view into the mmap");
    CHECK(ws->f32 && !ws->bf16, "misaligned BF16 matrix was not converted to float32");
    CHECK(ms.owned_bytes > ma.owned_bytes, "the shifted file should need float32 copies");
    const bool same = memcmp(la, ls, (size_t)((T + STEPS) * V) * sizeof(float)) == 0;
    printf("prompt logits and %d decode steps: %s\n", STEPS, same ? "bit-identical" : "DIFFERENT");
    CHECK(same, "BF16 views and float32 copies of the same weights give different logits");
    model_free(&ma);
    model_free(&ms);
    free(la), free(ls);
    remove_tree(aligned), remove_tree(shifted);
    free(aligned), free(shifted);
    return test_finish("test_bf16_alignment");
}
