/* The NIAH runner's bookkeeping, without a model: predictions written in
 * sample order whatever order samples finish in (ordered_lines.h), and
 * resuming (niah_resume.h): which samples an existing run holds, a torn last
 * line dropped, a run of another configuration or fewer samples refused,
 * and the file put back in a fresh run's order. */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/base/files.h"
#include "niah/run/niah_resume.h"
#include "niah/run/ordered_lines.h"
#include "stb_ds.h"
#include "tests/test_util.h"

static char *line_of(const char *text)
{
    return strdup(text);
}

static void check_ordered_lines(const char *dir)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/ordered.txt", dir);
    FILE *f = fopen(path, "w");
    struct ordered_lines o;
    CHECK(ordered_lines_begin(&o, 10, 5) == 0, "begin");
    /* Places 10..14: 11 was written by an earlier run; the rest finish 13, 10, 12, 14 (as MPI ranks return them). */
    ordered_lines_skip(&o, 11);
    CHECK(ordered_lines_flush(&o, NULL) == 0, "a skip behind an open place wrote something");
    CHECK(ordered_lines_put(&o, 13, line_of("13"), f) == 0, "13 written before 10 and 12");
    CHECK(ordered_lines_put(&o, 10, line_of("10"), f) == 1, "10 (then the skipped 11) should write one line");
    CHECK(ordered_lines_put(&o, 12, line_of("12"), f) == 2, "12 should release 12 and 13");
    CHECK(!ordered_lines_done(&o), "done before 14");
    CHECK(ordered_lines_put(&o, 14, line_of("14"), f) == 1, "14");
    CHECK(ordered_lines_done(&o), "not done after every place");
    ordered_lines_end(&o);
    fclose(f);
    char *text = read_text_file(path, NULL, &(struct hr_error){0});
    CHECK(text && strcmp(text, "10\n12\n13\n14\n") == 0, "file order: got '%s'", text ? text : "(none)");
    free(text);
    /* A failed run: lines still waiting are freed (LeakSanitizer checks), nothing written. */
    CHECK(ordered_lines_begin(&o, 0, 3) == 0, "begin");
    f = fopen(path, "w");
    CHECK(ordered_lines_put(&o, 2, line_of("2"), f) == 0, "2 before 0");
    ordered_lines_end(&o);
    fclose(f);
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

#define LINE(task, index)                                                                                              \
    "{\"variant\":\"m\",\"task\":\"" task "\",\"length\":1024,\"index\":" #index ",\"depth\":50}\n"

static void check_resume(const char *tmp)
{
    struct hr_error e;
    struct niah_resume r;
    cJSON *manifest = cJSON_Parse("{\"format\":\"hyrecall-niah-run-v1\",\"variants\":[],\"seed\":42,\"samples\":3}");
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/absent", tmp);
    CHECK(niah_resume_prepare(dir, manifest, &r, &e) == 0 && !r.existed && r.num_done == 0, "absent --out");
    niah_resume_free(&r);

    snprintf(dir, sizeof dir, "%s/run", tmp);
    mkdir(dir, 0755);
    write_file(dir, "run.json", "{\"format\":\"hyrecall-niah-run-v1\",\"variants\":[],\"seed\":42,\"samples\":2}");
    /* Two finished samples, then a line torn by a kill. */
    write_file(dir, "predictions.jsonl", LINE("niah_single_1", 1) LINE("niah_single_1", 0) "{\"variant\":\"m\",\"ta");
    CHECK(niah_resume_prepare(dir, manifest, &r, &e) == 0, "resume refused: %s", e.msg);
    CHECK(r.existed && r.num_done == 2 && r.recorded_samples == 2, "existed %d, done %d, recorded %ld", r.existed,
          r.num_done, r.recorded_samples);
    char key[512];
    niah_unit_key("m", "niah_single_1", 1024, 0, 50, key, sizeof key);
    CHECK(niah_resume_done(&r, key), "sample 0 not seen as done");
    niah_unit_key("m", "niah_single_1", 1024, 2, 50, key, sizeof key);
    CHECK(!niah_resume_done(&r, key), "sample 2 seen as done");
    niah_unit_key("m", "niah_single_1", 1024, 0, 25, key, sizeof key);
    CHECK(!niah_resume_done(&r, key), "another depth seen as done");
    niah_resume_free(&r);
    char path[4400];
    snprintf(path, sizeof path, "%s/predictions.jsonl", dir);
    char *text = read_text_file(path, NULL, &e);
    CHECK(text && strcmp(text, LINE("niah_single_1", 1) LINE("niah_single_1", 0)) == 0, "torn line kept: '%s'",
          text ? text : "");
    free(text);

    /* Back in a fresh run's order (sample 0 first), atomically; a line not of this run is refused. */
    struct niah_key_set *order = NULL;
    sh_new_strdup(order);
    niah_unit_key("m", "niah_single_1", 1024, 0, 50, key, sizeof key);
    shput(order, key, 0);
    niah_unit_key("m", "niah_single_1", 1024, 1, 50, key, sizeof key);
    shput(order, key, 1);
    CHECK(niah_predictions_reorder(dir, order, &e) == 0, "reorder: %s", e.msg);
    text = read_text_file(path, NULL, &e);
    CHECK(text && strcmp(text, LINE("niah_single_1", 0) LINE("niah_single_1", 1)) == 0, "not reordered: '%s'",
          text ? text : "");
    free(text);
    shfree(order);
    sh_new_strdup(order);
    shput(order, key, 0);
    CHECK(niah_predictions_reorder(dir, order, &e) != 0 && strstr(e.msg, "line 1 is not a sample of this run"),
          "a line outside the order accepted: %s", e.msg);
    shfree(order);

    /* Another configuration, or fewer samples than recorded: refused, naming the field. */
    cJSON *other = cJSON_Parse("{\"format\":\"hyrecall-niah-run-v1\",\"variants\":[],\"seed\":7,\"samples\":3}");
    CHECK(niah_resume_prepare(dir, other, &r, &e) != 0 && strstr(e.msg, "field 'seed' differs"),
          "another seed resumed: %s", e.msg);
    niah_resume_free(&r);
    cJSON_Delete(other);
    other = cJSON_Parse("{\"format\":\"hyrecall-niah-run-v1\",\"variants\":[],\"seed\":42,\"samples\":1}");
    CHECK(niah_resume_prepare(dir, other, &r, &e) != 0 && strstr(e.msg, "would drop some"), "fewer samples resumed: %s",
          e.msg);
    niah_resume_free(&r);
    cJSON_Delete(other);
    cJSON_Delete(manifest);
}

int main(void)
{
    char *tmp = make_temp_dir("runner");
    check_ordered_lines(tmp);
    check_resume(tmp);
    remove_tree(tmp);
    free(tmp);
    return test_finish("test_niah_runner");
}
