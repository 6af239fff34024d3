/* The routing lens against Hugging Face transformers: for each golden model,
 * tools/lens_reference.py ran transformers 5.17.0 (eager attention, float32,
 * CPU, output_attentions=True) on the golden prompt cut after position P and
 * saved row P of every softmax layer's attention matrix as `attn.<layer>.<P>`
 * [heads, P+1] in lens_reference.safetensors. hyrecall's lens must give the
 * same probabilities within TOLERANCE (max |diff|).
 *   test_lens_reference MODEL_DIR TOLERANCE */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <stb_ds.h>

#include "engine/lens.h"
#include "engine/model.h"
#include "tests/test_util.h"

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: test_lens_reference MODEL_DIR TOLERANCE\n");
        return 2;
    }
    const char *dir = argv[1];
    const double tol = atof(argv[2]);
    char path[4096];
    struct hr_error e;
    struct golden g;
    struct st_file ref;
    struct model m;
    snprintf(path, sizeof path, "%s/golden.safetensors", dir);
    if (golden_load(path, &g)) return 1;
    snprintf(path, sizeof path, "%s/lens_reference.safetensors", dir);
    if (st_open_file(path, &ref, &e) || model_load(dir, &m, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    int compared = 0;
    double worst = 0;
    for (ptrdiff_t t = 0; t < arrlen(ref.tensors); t++) {
        const struct st_tensor *r = &ref.tensors[t];
        int layer;
        long long P;
        if (sscanf(r->name, "attn.%d.%lld", &layer, &P) != 2 || layer < 0 || layer >= m.cfg.num_layers || P < 0 ||
            P >= g.T || r->dtype != DT_F32 || r->ndim != 2 || r->shape[1] != P + 1) {
            CHECK(0, "%s: unexpected tensor '%s'", path, r->name);
            continue;
        }
        struct lens l;
        if (lens_run(&m, g.input_ids, P, 0, &l, &e)) {
            CHECK(0, "%s", e.msg);
            continue;
        }
        CHECK(l.attn[layer] != NULL, "layer %d: the lens has no attention row (reference has)", layer);
        CHECK(l.heads[layer] == r->shape[0], "layer %d: %d heads vs reference %lld", layer, l.heads[layer],
              (long long)r->shape[0]);
        if (l.attn[layer] && l.heads[layer] == r->shape[0]) {
            float *want = malloc((size_t)r->nbytes);
            memcpy(want, r->data, r->nbytes); /* the mapping need not be aligned */
            const double d = max_abs_diff(l.attn[layer], want, r->numel);
            CHECK(d <= tol, "layer %d at P=%lld: max |diff| %.3g > %g", layer, P, d, tol);
            worst = fmax(worst, d);
            free(want);
            compared++;
        }
        lens_free(&l);
    }
    CHECK(compared > 0, "%s: no attention rows compared", path);
    printf("%s: %d rows (layer x position) compared, max |diff| %.3g (tolerance %g)\n", dir, compared, worst, tol);
    model_free(&m);
    st_close_file(&ref);
    golden_free(&g);
    return test_finish("test_lens_reference");
}
