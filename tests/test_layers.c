/* Reference dumps for porters (engine/tensor_dump.h) against the reference
 * code's own module outputs:
 *
 *   test_layers MODEL_DIR
 *
 * MODEL_DIR/layers.safetensors holds, for golden.safetensors' prompt, every
 * module output of one parallel pass of the reference implementation
 * (transformers 5.17, or the published HypeNet / Jet-Nemotron code), named by
 * PyTorch module path (tests/goldens/README.md). Every one of its tensors must
 * be in hyrecall's dump with the same shape and within 1e-4 of
 * max(1, max |reference|); the dump must be bit-identical at 1 and 2 threads,
 * and recording must not change the logits. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/load/safetensors.h"
#include "engine/model.h"
#include "engine/ops/cpu.h"
#include "engine/session.h"
#include "engine/tensor_dump.h"
#include "stb_ds.h"
#include "tests/test_util.h"

/* The prompt through a session with the recorder attached (logits of every row,
 * so model.norm covers them all), the states after it added. */
static int record(const struct model *m, const struct golden *g, struct tensor_recorder *r, float *logits)
{
    struct hr_error e;
    struct session s;
    if (tensor_recorder_init(r, m, g->T, NULL, &e) || session_init(&s, m, 0, &e)) return -1;
    const struct session_observer o = tensor_recorder_observer(r);
    session_set_observer(&s, &o);
    const int rc = session_forward(&s, g->input_ids, g->T, logits, true, &e);
    if (rc == 0) tensor_recorder_add_states(r, &s);
    session_free(&s);
    return rc || r->failed ? -1 : 0;
}

int main(int argc, char **argv)
{
    cpu_select_openblas_core(argv);
    if (argc < 2) return 2;
    const char *dir = argv[1];
    char path[4200];
    snprintf(path, sizeof path, "%s/golden.safetensors", dir);
    struct golden g;
    if (golden_load(path, &g) != 0) return 1;
    struct model m;
    struct hr_error e;
    if (model_load(dir, &m, &e) != 0) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    const size_t V = (size_t)m.cfg.vocab_size;
    float *logits = malloc((size_t)g.T * V * sizeof(float)), *plain = malloc((size_t)g.T * V * sizeof(float));

    struct tensor_recorder one, two;
    cpu_set_threads(1);
    CHECK(record(&m, &g, &one, logits) == 0, "recording failed (1 thread)");
    cpu_set_threads(2);
    CHECK(record(&m, &g, &two, logits) == 0, "recording failed (2 threads)");

    /* Against the reference: every module it has, same name and shape, within 1e-4 of its scale. */
    snprintf(path, sizeof path, "%s/layers.safetensors", dir);
    struct st_file ref;
    CHECK(st_open_file(path, &ref, &e) == 0, "%s", e.msg);
    double worst = 0;
    const char *worst_name = "";
    for (ptrdiff_t i = 0; i < arrlen(ref.tensors); i++) {
        const struct st_tensor *t = &ref.tensors[i];
        const ptrdiff_t at = shgeti(two.index, t->name);
        CHECK(at >= 0, "%s: the dump has no %s", dir, t->name);
        if (at < 0) continue;
        const struct recorded_tensor *mine = &two.tensors[two.index[at].value];
        bool same_shape = mine->ndim == t->ndim;
        for (int d = 0; same_shape && d < t->ndim; d++) same_shape = mine->shape[d] == t->shape[d];
        CHECK(same_shape && t->dtype == DT_F32, "%s: %s has another shape or dtype than the reference", dir, t->name);
        if (!same_shape || t->dtype != DT_F32) continue;
        float *want = malloc((size_t)t->numel * sizeof(float));
        memcpy(want, t->data, (size_t)t->numel * sizeof(float)); /* the mapping need not be aligned */
        const double scale = fmax(1.0, max_abs(want, t->numel)), diff = max_abs_diff(mine->data, want, t->numel);
        CHECK(diff <= 1e-4 * scale, "%s: %s differs from the reference by %.3g (scale %.3g)", dir, t->name, diff,
              scale);
        if (diff / scale > worst) worst = diff / scale, worst_name = t->name;
        free(want);
    }
    printf("%s: %d reference modules matched, worst %.2e of scale (%s); %d tensors dumped\n", dir,
           (int)arrlen(ref.tensors), worst, worst_name, (int)arrlen(two.tensors));

    /* Bit-identical at any thread count. */
    bool same = arrlen(one.tensors) == arrlen(two.tensors);
    for (ptrdiff_t i = 0; same && i < arrlen(one.tensors); i++) {
        const struct recorded_tensor *a = &one.tensors[i], *b = &two.tensors[i];
        const int64_t n = a->shape[0] * (a->ndim > 1 ? a->shape[1] : 1) * (a->ndim > 2 ? a->shape[2] : 1);
        same = strcmp(a->name, b->name) == 0 && memcmp(a->data, b->data, (size_t)n * sizeof(float)) == 0;
    }
    CHECK(same, "%s: the dump differs between 1 and 2 threads", dir);

    /* Recording only observes: the logits are those of a session without it. */
    struct session s;
    CHECK(session_init(&s, &m, 0, &e) == 0 && session_forward(&s, g.input_ids, g.T, plain, true, &e) == 0, "%s", e.msg);
    session_free(&s);
    CHECK(memcmp(plain, logits, (size_t)g.T * V * sizeof(float)) == 0, "%s: recording changed the logits", dir);

    st_close_file(&ref);
    tensor_recorder_free(&one), tensor_recorder_free(&two);
    free(logits), free(plain);
    model_free(&m);
    golden_free(&g);
    return test_finish("test_layers");
}
