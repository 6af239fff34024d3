/* The NIAH runner's bookkeeping, without a model: the order that lets
 * samples reuse each other's prefill (prefix_order.c), and resuming (niah_resume.h): which samples an existing run
 * holds, a torn last line dropped, a run of another configuration or fewer samples refused, and the file put back in a
 * fresh run's order. */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/base/files.h"
#include "niah/run/niah_resume.h"
#include "niah/run/niah_run.h"
#include "stb_ds.h"
#include "tests/test_util.h"

/* A haystack prompt with its needle after `depth` bytes of the shared text. */
static char *prompt_at(const char *haystack, int depth, const char *needle)
{
    const size_t n = strlen(haystack);
    char *p = malloc(n + strlen(needle) + 1);
    memcpy(p, haystack, (size_t)depth);
    strcpy(p + depth, needle);
    strcat(p, haystack + depth);
    return p;
}

/* niah_prefix_order: longest length first, then deepest shared beginning,
 * then sample order; in that order each prompt shares with the one before
 * all it shares with any (the sum of every depth but the deepest). */
static void check_prefix_order(void)
{
    const char *hay = "Some special magic numbers are hidden within the following text. The grass is green. The sky "
                      "is blue. The sun is yellow. Here we go. There and back again. The grass is green.";
    const int depth[5] = {30, 80, 10, 50, 5};
    const int64_t length[5] = {1000, 1000, 1000, 1000, 2000};
    struct niah_sample samples[5];
    struct unit units[5];
    for (int i = 0; i < 5; i++) {
        char needle[64];
        snprintf(needle, sizeof needle, "|needle %d|", 1000 + i); /* "|" is not in the haystack */
        samples[i] = (struct niah_sample){.index = i, .prompt = prompt_at(hay, depth[i], needle)};
        units[i] = (struct unit){.index = i, .task = "niah_single_1", .length = length[i], .s = &samples[i]};
    }
    niah_prefix_order(units, 5);
    const int want[5] = {4, 1, 3, 0, 2};
    for (int i = 0; i < 5; i++)
        CHECK(units[i].index == want[i], "prefix order: place %d holds sample %d, want %d", i, units[i].index, want[i]);
    size_t reused = 0;
    for (int i = 2; i < 5; i++) {
        const char *a = units[i - 1].s->prompt, *b = units[i].s->prompt;
        size_t c = 0;
        while (a[c] && a[c] == b[c]) c++;
        reused += c;
    }
    CHECK(reused == 30 + 10 + 50, "prefix order shares %zu bytes with the previous prompts, want 90", reused);
    for (int i = 0; i < 5; i++) free(samples[i].prompt);
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
    check_prefix_order();
    check_resume(tmp);
    remove_tree(tmp);
    free(tmp);
    return test_finish("test_niah_runner");
}
