/* The tokenizer against Hugging Face tokenizers on the real Qwen3
 * tokenizer.json: every line of tests/tokenizer/qwen3_public.jsonl (text, ids,
 * decoded; made with tokenizers 0.23.2) must encode to exactly ids and decode
 * back to decoded. Invalid UTF-8 is encoded byte-wise and round-trips; a
 * malformed tokenizer.json is refused with a message naming the field.
 *
 *   test_tokenizer TOKENIZER_JSON GOLDEN_JSONL */
#include <cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/files.h"
#include "engine/load/config.h"
#include "tests/test_util.h"
#include "tokenizer/tokenizer.h"

static void golden_lines(struct tokenizer *t, const char *jsonl)
{
    struct hr_error e;
    char *text = read_text_file(jsonl, NULL, &e);
    if (!text) {
        CHECK(0, "%s", e.msg);
        return;
    }
    int lines = 0, exact = 0, roundtrip = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        cJSON *o = cJSON_Parse(line);
        const cJSON *tx = cJSON_GetObjectItem(o, "text"), *want = cJSON_GetObjectItem(o, "ids"),
                    *dec = cJSON_GetObjectItem(o, "decoded");
        int32_t *ids;
        int n;
        lines++;
        if (tok_encode(t, tx->valuestring, strlen(tx->valuestring), &ids, &n, &e) != 0) {
            CHECK(0, "line %d: %s", lines, e.msg);
            cJSON_Delete(o);
            continue;
        }
        bool same = n == cJSON_GetArraySize(want);
        for (int i = 0; same && i < n; i++) same = ids[i] == cJSON_GetArrayItem(want, i)->valueint;
        exact += same;
        if (!same) {
            fprintf(stderr, "line %d %s: got", lines, tx->valuestring);
            for (int i = 0; i < n; i++) fprintf(stderr, " %d", ids[i]);
            fprintf(stderr, "\n  want");
            for (int i = 0; i < cJSON_GetArraySize(want); i++)
                fprintf(stderr, " %d", cJSON_GetArrayItem(want, i)->valueint);
            fprintf(stderr, "\n");
        }
        CHECK(same, "line %d: ids differ", lines);
        char *back;
        size_t len;
        if (tok_decode(t, ids, n, &back, &len, &e) == 0) {
            bool ok = len == strlen(dec->valuestring) && memcmp(back, dec->valuestring, len) == 0;
            roundtrip += ok;
            CHECK(ok, "line %d: decode gives '%s', want '%s'", lines, back, dec->valuestring);
            free(back);
        }
        free(ids);
        cJSON_Delete(o);
    }
    printf("golden lines: %d of %d encode exactly, %d of %d decode to the golden text\n", exact, lines, roundtrip,
           lines);
    free(text);
}

static void invalid_utf8(struct tokenizer *t)
{
    const char bad[] = "ok \xff\xfe broken \xc3 tail \xe2\x82 end \xf0\x9f\x98 \x80\x80";
    int32_t *ids;
    int n;
    struct hr_error e;
    int rc = tok_encode(t, bad, sizeof bad - 1, &ids, &n, &e);
    CHECK(rc == 0, "invalid UTF-8 rejected: %s", e.msg);
    if (rc) return;
    char *back;
    size_t len;
    rc = tok_decode(t, ids, n, &back, &len, &e);
    CHECK(rc == 0 && len == sizeof bad - 1 && memcmp(back, bad, len) == 0, "invalid UTF-8 does not round-trip");
    printf("invalid UTF-8: %zu bytes -> %d ids -> the same bytes back\n", sizeof bad - 1, n);
    free(back);
    free(ids);
}

static void expect_bad(const char *json, const char *needle)
{
    char *dir = make_temp_dir("tok"), path[4096];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    FILE *f = fopen(path, "wb");
    fputs(json, f);
    fclose(f);
    struct tokenizer *t;
    struct hr_error e = {{0}};
    int rc = tok_load(path, &t, &e);
    CHECK(rc != 0, "accepted a malformed tokenizer (%s)", needle);
    if (rc == 0) tok_free(t);
    CHECK(strstr(e.msg, path) && strstr(e.msg, needle), "message lacks the file or '%s': %s", needle, e.msg);
    printf("  malformed -> %s\n", e.msg + strlen(dir) + 1);
    remove_tree(dir);
    free(dir);
}

static void malformed(void)
{
    printf("malformed tokenizer.json:\n");
    expect_bad("{\"model\": ", "not a JSON object");
    expect_bad("{\"model\": {\"type\": \"WordPiece\", \"vocab\": {}}}", "'model.type' is 'WordPiece'");
    expect_bad("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": \"x\"}, \"merges\": []}}", "model.vocab[\"a\"]");
    expect_bad("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": [\"a c\"]}}",
               "'model.merges'[0]");
    expect_bad("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 0}, \"merges\": []}}",
               "id 0 is given to two");
    expect_bad("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}}", "ByteLevel token for byte");
}

int main(int argc, char **argv)
{
    if (argc < 3) return 2;
    struct tokenizer *t;
    struct hr_error e;
    if (tok_load(argv[1], &t, &e) != 0) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    golden_lines(t, argv[2]);
    invalid_utf8(t);
    tok_free(t);
    malformed();
    return test_finish("test_tokenizer");
}
