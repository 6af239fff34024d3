/* Helpers shared by the C tests: assertions that report and count instead
 * of aborting, golden files, temporary directories, checkpoint conversion. */
#ifndef HYRECALL_TEST_UTIL_H
#define HYRECALL_TEST_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "engine/base/files.h"
#include "engine/load/safetensors.h"
#include "engine/ops/dtype.h"

extern int test_failures;

#define CHECK(cond, ...)                                                                                               \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                                       \
            fprintf(stderr, __VA_ARGS__);                                                                              \
            fprintf(stderr, "\n");                                                                                     \
            test_failures++;                                                                                           \
        }                                                                                                              \
    } while (0)

/* Exit status for main(): non-zero if any CHECK failed. */
int test_finish(const char *name);

/* Reference outputs in the layout of ../shared/goldens/models/NAME/golden.safetensors. */
struct golden {
    struct st_file file;
    const int32_t *input_ids, *generated_ids; /* aligned copies */
    const float *logits, *full_logits_last;   /* logits [R, V]: the prompt rows `rows` */
    const int32_t *rows;                      /* the long goldens' prompt rows; NULL: every row */
    int T, G, V, R;
    void *owned[5];
};
int golden_load(const char *path, struct golden *g);
/* The golden's logits at prompt position t, or NULL when it did not keep that row. */
const float *golden_row(const struct golden *g, int t);
void golden_free(struct golden *g);

double max_abs_diff(const float *a, const float *b, int64_t n);
double max_abs(const float *a, int64_t n);

/* mkdtemp under $TMPDIR (or /tmp); returns a malloc'd path. */
char *make_temp_dir(const char *tag);
int copy_file(const char *from, const char *to);

/* Writes DST/model.safetensors with every F32 tensor of SRC rounded to
 * round_to (BF16 or F16, nearest even) and stored as round_to, or widened
 * back to F32 when store_as is DT_F32; copies SRC's config files. */
int convert_checkpoint(const char *src_dir, const char *dst_dir, enum dtype round_to, enum dtype store_as);

#endif
