/* hyrecall synth draws the decay gates as the published models initialise
 * them (engine/synth.c): for every dt_bias, dt = softplus(dt_bias) lies in
 * [1e-4, 0.1], with dt log-uniform on [0.001, 0.1] (so both decades are
 * drawn), and A_log = log A with A in [1, 16]. Checked on the tiny configs of
 * the Jet-Nemotron and Qwen3-Next goldens, written as float32.
 *
 *   test_synth GOLDENS_DIR */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/synth.h"
#include "stb_ds.h"
#include "tests/test_util.h"

static void check_gates(const char *goldens, const char *name)
{
    char config[4096], out[4096], weights[4200];
    snprintf(config, sizeof config, "%s/%s/config.json", goldens, name);
    char *dir = make_temp_dir("synth");
    snprintf(out, sizeof out, "%s/model", dir);
    struct hr_error e;
    int64_t params = 0;
    if (synth_checkpoint(config, out, DT_F32, 7, &params, &e) != 0) {
        CHECK(false, "%s: synth failed: %s", name, e.msg);
        return;
    }
    snprintf(weights, sizeof weights, "%s/model.safetensors", out);
    struct st_file f;
    if (st_open_file(weights, &f, &e) != 0) {
        CHECK(false, "%s: %s", name, e.msg);
        return;
    }
    int n_dt = 0, n_a = 0, low = 0, high = 0;
    double dt_min = INFINITY, dt_max = 0, a_min = INFINITY, a_max = 0;
    for (ptrdiff_t i = 0; i < arrlen(f.tensors); i++) {
        const struct st_tensor *t = &f.tensors[i];
        const bool dt = strstr(t->name, "dt_bias") != NULL, a = strstr(t->name, "A_log") != NULL;
        if (!dt && !a) continue;
        CHECK(t->dtype == DT_F32, "%s: %s is not float32", name, t->name);
        for (int64_t k = 0; k < t->numel; k++) {
            float v;
            memcpy(&v, (const char *)t->data + 4 * k, 4);
            if (dt) {
                const double step = log1p(exp((double)v)); /* softplus */
                dt_min = fmin(dt_min, step), dt_max = fmax(dt_max, step);
                low += step < 0.01, high += step >= 0.01;
                n_dt++;
            } else {
                const double A = exp((double)v);
                a_min = fmin(a_min, A), a_max = fmax(a_max, A);
                n_a++;
            }
        }
    }
    printf(
        "  %-13s %d dt_bias values: softplus in [%.2g, %.2g] (%d below 0.01, %d above); %d A_log: A in [%.3g, %.3g]\n",
        name, n_dt, dt_min, dt_max, low, high, n_a, a_min, a_max);
    CHECK(n_dt > 0 && n_a > 0, "%s: no dt_bias / A_log tensors", name);
    /* float32 storage rounds dt_bias; softplus then moves by a relative 1e-7 at most. */
    CHECK(dt_min >= 1e-4 * (1 - 1e-6) && dt_max <= 0.1 * (1 + 1e-6), "%s: dt outside [1e-4, 0.1]", name);
    CHECK(low > 0 && high > 0, "%s: dt not spread over both decades of [0.001, 0.1]", name);
    CHECK(a_min >= 1 - 1e-6 && a_max <= 16 * (1 + 1e-6), "%s: A outside [1, 16]", name);
    st_close_file(&f);
    remove(weights);
    snprintf(weights, sizeof weights, "%s/config.json", out);
    remove(weights);
    rmdir(out);
    rmdir(dir);
    free(dir);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_synth GOLDENS_DIR\n");
        return 2;
    }
    check_gates(argv[1], "jet_nemotron");
    check_gates(argv[1], "qwen3_next");
    return test_finish("test_synth");
}
