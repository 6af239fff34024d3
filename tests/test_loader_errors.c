/* Every malformed input the loader must refuse, one crafted file per case:
 * each must fail with a message naming the file and the field or tensor. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/base/files.h"
#include "engine/model.h"
#include "stb_ds.h"
#include "tests/test_util.h"

static const char *golden_dir;
/* With --write-cases DIR, every corrupted model directory is kept as
 * DIR/<case> (with config.json) for the CLI corruption test. */
static const char *write_dir;

static void keep_case(const char *tmp_dir, const char *name)
{
    if (!write_dir) return;
    char dst[4096], cfg_from[4096], cfg_to[4096];
    size_t at = (size_t)snprintf(dst, sizeof dst, "%s/", write_dir);
    for (const char *p = name; *p && at + 1 < sizeof dst; p++)
        dst[at++] = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ? *p : '_';
    dst[at] = '\0';
    snprintf(cfg_to, sizeof cfg_to, "%s/config.json", tmp_dir);
    if (access(cfg_to, F_OK) != 0) { /* raw safetensors cases: give them the golden config */
        snprintf(cfg_from, sizeof cfg_from, "%s/config.json", golden_dir);
        copy_file(cfg_from, cfg_to);
    }
    char cmd[9000];
    snprintf(cmd, sizeof cmd, "cp -r '%s' '%s'", tmp_dir, dst);
    if (system(cmd) != 0) fprintf(stderr, "could not keep case %s\n", name);
}

/* Writes a raw safetensors file: u64 length, header text, data bytes. */
static void write_raw(const char *path, const char *header, size_t data_len, uint64_t claimed_len)
{
    FILE *f = fopen(path, "wb");
    if (claimed_len == UINT64_MAX) { /* a truncated file: 5 bytes of a length field */
        fwrite("\x10\0\0\0\0", 1, 5, f);
        fclose(f);
        return;
    }
    uint64_t n = claimed_len ? claimed_len : strlen(header);
    unsigned char b[8];
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(n >> (8 * i));
    fwrite(b, 1, 8, f);
    fputs(header, f);
    for (size_t i = 0; i < data_len; i++) fputc(0, f);
    fclose(f);
}

static void expect_file_error(const char *name, const char *header, size_t data_len, uint64_t claimed_len,
                              const char *needle)
{
    char *dir = make_temp_dir("st");
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    write_raw(path, header, data_len, claimed_len);
    struct st_file f;
    struct hr_error e = {{0}};
    int rc = st_open_file(path, &f, &e);
    CHECK(rc != 0, "%s: accepted a malformed file", name);
    if (rc == 0) st_close_file(&f);
    CHECK(strstr(e.msg, path) != NULL, "%s: message does not name the file: %s", name, e.msg);
    CHECK(strstr(e.msg, needle) != NULL, "%s: message lacks '%s': %s", name, needle, e.msg);
    printf("  %-26s -> %s\n", name, e.msg + strlen(dir) + 1);
    keep_case(dir, name);
    remove_tree(dir);
    free(dir);
}

static void safetensors_format_cases(void)
{
    printf("safetensors format:\n");
    expect_file_error("shorter than 8 bytes", "", 0, UINT64_MAX, "shorter than the 8-byte");
    expect_file_error("header past end of file", "{}", 0, 4096, "runs past the end of the file");
    expect_file_error("header not JSON", "{\"a\": [1, 2", 0, 0, "not valid JSON");
    expect_file_error("header not an object", "[1, 2, 3]", 0, 0, "not a JSON object");
    expect_file_error("unknown dtype", "{\"w\":{\"dtype\":\"F12\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, 0,
                      "unknown dtype 'F12'");
    expect_file_error("negative shape", "{\"w\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, 0,
                      "'shape'[0]");
    expect_file_error("shape overflows",
                      "{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}", 8, 0,
                      "overflows");
    expect_file_error("offset beyond int64", /* found by fuzz_safetensors */
                      "{\"w\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[0,"
                      "5555555555555555555555555555555555555555555555555555558]}}",
                      8, 0, "'data_offsets'");
    expect_file_error("offsets past data", "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8, 0,
                      "runs past the data region");
    expect_file_error("bytes != shape x dtype", "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8,
                      0, "shape x dtype");
    expect_file_error("overlapping tensors",
                      "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                      "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                      12, 0, "overlap");
    expect_file_error("gap between tensors",
                      "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                      "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
                      12, 0, "gap");
    expect_file_error("duplicate name",
                      "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                      "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                      8, 0, "appears twice");
    expect_file_error("missing data_offsets", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, 0, "'data_offsets'");
    expect_file_error("metadata not strings", "{\"__metadata__\":{\"k\":1}}", 0, 0, "__metadata__.k");
}

/* A copy of the golden model directory whose safetensors is rewritten by
 * `edit` (may drop, add or reshape tensors) and whose config.json has
 * `from` replaced by `to`. */
typedef void (*edit_fn)(struct st_write_tensor *t, int *n);

static char *make_model(edit_fn edit, const char *from, const char *to)
{
    char *dir = make_temp_dir("model");
    char src[4096], dst[4096];
    snprintf(src, sizeof src, "%s/model.safetensors", golden_dir);
    snprintf(dst, sizeof dst, "%s/model.safetensors", dir);
    struct st_file f;
    struct hr_error e;
    if (st_open_file(src, &f, &e) != 0) abort();
    int n = (int)arrlen(f.tensors);
    struct st_write_tensor *t = calloc((size_t)n + 1, sizeof *t);
    for (int i = 0; i < n; i++)
        t[i] =
            (struct st_write_tensor){f.tensors[i].name, f.tensors[i].dtype, f.tensors[i].ndim, {0}, f.tensors[i].data};
    for (int i = 0; i < n; i++) memcpy(t[i].shape, f.tensors[i].shape, sizeof t[i].shape);
    if (edit) edit(t, &n);
    if (st_write_file(dst, t, n, NULL, false, &e) != 0) abort();
    free(t);
    st_close_file(&f);

    snprintf(src, sizeof src, "%s/config.json", golden_dir);
    snprintf(dst, sizeof dst, "%s/config.json", dir);
    char *text = read_text_file(src, NULL, &e);
    FILE *out = fopen(dst, "wb");
    char *at = from ? strstr(text, from) : NULL;
    if (from && !at) {
        fprintf(stderr, "config edit: '%s' not found\n", from);
        abort();
    }
    if (at) {
        fwrite(text, 1, (size_t)(at - text), out);
        fputs(to, out);
        fputs(at + strlen(from), out);
    } else {
        fputs(text, out);
    }
    fclose(out);
    free(text);
    return dir;
}

static void expect_model_error(const char *name, edit_fn edit, const char *from, const char *to, const char *needle1,
                               const char *needle2)
{
    char *dir = make_model(edit, from, to);
    struct model m;
    struct hr_error e = {{0}};
    int rc = model_load(dir, &m, &e);
    CHECK(rc != 0, "%s: accepted", name);
    if (rc == 0) model_free(&m);
    CHECK(strstr(e.msg, dir) != NULL, "%s: message does not name the file: %s", name, e.msg);
    CHECK(strstr(e.msg, needle1) != NULL, "%s: message lacks '%s': %s", name, needle1, e.msg);
    if (needle2) CHECK(strstr(e.msg, needle2) != NULL, "%s: message lacks '%s': %s", name, needle2, e.msg);
    printf("  %-26s -> %s\n", name, e.msg + strlen(dir) + 1);
    keep_case(dir, name);
    remove_tree(dir);
    free(dir);
}

static int find(struct st_write_tensor *t, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(t[i].name, name) == 0) return i;
    abort();
}

static void drop_k_proj(struct st_write_tensor *t, int *n)
{
    int i = find(t, *n, "model.layers.2.self_attn.k_proj.weight");
    memmove(&t[i], &t[i + 1], (size_t)(*n - i - 1) * sizeof *t);
    (*n)--;
}

static void add_extra(struct st_write_tensor *t, int *n)
{
    t[*n] = t[find(t, *n, "model.norm.weight")];
    t[*n].name = "model.layers.9.mystery.weight";
    (*n)++;
}

static void reshape_up_proj(struct st_write_tensor *t, int *n)
{
    int i = find(t, *n, "model.layers.1.mlp.up_proj.weight");
    t[i].shape[0] = 64, t[i].shape[1] = 128; /* transposed */
}

static const int32_t int_data[64] = {0};
static void int_norm(struct st_write_tensor *t, int *n)
{
    int i = find(t, *n, "model.norm.weight");
    t[i].dtype = DT_I32;
    t[i].data = int_data;
}

static void model_cases(void)
{
    printf("model against config:\n");
    expect_model_error("missing tensor", drop_k_proj, NULL, NULL, "missing tensor",
                       "model.layers.2.self_attn.k_proj.weight");
    expect_model_error("unexpected tensor", add_extra, NULL, NULL, "unexpected tensor", "model.layers.9.mystery");
    expect_model_error("wrong shape", reshape_up_proj, NULL, NULL, "model.layers.1.mlp.up_proj.weight",
                       "config.json implies [128, 64]");
    expect_model_error("unsupported dtype", int_norm, NULL, NULL, "model.norm.weight", "dtype I32");
    expect_model_error("config implies other shape", NULL, "\"intermediate_size\": 128", "\"intermediate_size\": 96",
                       "mlp.", "[96, 64]");
    expect_model_error("unknown architecture", NULL, "\"model_type\": \"qwen3\"", "\"model_type\": \"qwen9\"",
                       "'model_type' is 'qwen9'", "unknown architecture");
    expect_model_error("missing config field", NULL, "\"hidden_size\": 64,", "", "config.json",
                       "'hidden_size' is missing");
    expect_model_error("wrong field type", NULL, "\"num_hidden_layers\": 4", "\"num_hidden_layers\": \"4\"",
                       "config.json", "'num_hidden_layers'");
    expect_model_error("kv heads do not divide", NULL, "\"num_key_value_heads\": 2", "\"num_key_value_heads\": 3",
                       "config.json", "'num_key_value_heads'");
    expect_model_error("unknown layer kind", NULL, "\"sliding_attention\",\n    \"full_attention\",\n    \"sliding",
                       "\"mamba\",\n    \"full_attention\",\n    \"sliding", "config.json",
                       "'layer_types'[0] is 'mamba'");
    expect_model_error("layer_types length", NULL, "\"num_hidden_layers\": 4", "\"num_hidden_layers\": 3",
                       "config.json", "'layer_types'");
    expect_model_error("config not JSON", NULL, "{", "{{", "config.json", "not valid JSON");
    expect_model_error("unsupported rope", NULL, "\"rope_type\": \"default\"", "\"rope_type\": \"yarn\"", "config.json",
                       "'rope_parameters.rope_type' is 'yarn'");
}

static void sharded_cases(void)
{
    printf("sharded checkpoints:\n");
    char *dir = make_model(NULL, NULL, NULL);
    char path[4096], moved[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    snprintf(moved, sizeof moved, "%s/model-00001-of-00001.safetensors", dir);
    rename(path, moved);
    /* An index that names every tensor of the shard loads. */
    struct st_file f;
    struct hr_error e;
    st_open_file(moved, &f, &e);
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    FILE *out = fopen(path, "wb");
    fputs("{\"metadata\": {}, \"weight_map\": {", out);
    for (ptrdiff_t i = 0; i < arrlen(f.tensors); i++)
        fprintf(out, "%s\"%s\": \"model-00001-of-00001.safetensors\"", i ? ", " : "", f.tensors[i].name);
    fputs(", \"model.ghost.weight\": \"model-00001-of-00001.safetensors\"}}", out);
    fclose(out);
    st_close_file(&f);
    struct model m;
    int rc = model_load(dir, &m, &e);
    CHECK(rc != 0 && strstr(e.msg, "model.ghost.weight") && strstr(e.msg, "index.json"),
          "index naming a tensor no shard holds: %s", rc ? e.msg : "accepted");
    if (rc == 0) model_free(&m);
    printf("  %-26s -> %s\n", "index names a ghost", rc ? e.msg + strlen(dir) + 1 : "accepted");

    /* Without the ghost it loads, through the index. */
    char *text = read_text_file(path, NULL, &e);
    *strstr(text, ", \"model.ghost.weight\"") = '\0';
    out = fopen(path, "wb");
    fprintf(out, "%s}}", text);
    fclose(out);
    free(text);
    rc = model_load(dir, &m, &e);
    CHECK(rc == 0, "valid sharded checkpoint rejected: %s", e.msg);
    if (rc == 0) {
        CHECK(st_tensor_count(&m.weights) == 47, "sharded load holds %zu tensors", st_tensor_count(&m.weights));
        model_free(&m);
    }
    unlink(moved);
    rc = model_load(dir, &m, &e);
    CHECK(rc != 0 && strstr(e.msg, "model-00001-of-00001.safetensors") && strstr(e.msg, "cannot open"),
          "missing shard: %s", rc ? e.msg : "accepted");
    printf("  %-26s -> %s\n", "missing shard", rc ? e.msg + strlen(dir) + 1 : "accepted");
    remove_tree(dir);
    free(dir);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_loader_errors GOLDEN_MODEL_DIR\n");
        return 2;
    }
    golden_dir = argv[1];
    if (argc > 3 && strcmp(argv[2], "--write-cases") == 0) write_dir = argv[3];
    safetensors_format_cases();
    model_cases();
    sharded_cases();
    return test_finish("test_loader_errors");
}
