#include "engine/provenance.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/build_info.h"
#include "engine/load/safetensors.h"
#include "engine/ops/cpu.h"
#include "engine/ops/ops.h"
#include "stb_ds.h"

static void to_hex(const unsigned char *md, char hex[65])
{
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

void sha256_hex_of(const void *data, size_t n, char hex[65])
{
    unsigned char md[32];
    unsigned int len = 0;
    EVP_Digest(data, n, md, &len, EVP_sha256(), NULL);
    to_hex(md, hex);
}

/* Streams PATH through SHA-256 in 8 MiB reads. */
static int sha256_file(const char *path, char hex[65], int64_t *bytes, struct hr_error *e)
{
    FILE *f = fopen(path, "rb");
    if (!f) return hr_fail(e, "%s: cannot open for its SHA-256", path);
    const size_t chunk = (size_t)8 << 20;
    unsigned char *buf = malloc(chunk);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int rc = buf && ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) ? 0 : hr_fail(e, "%s: out of memory", path);
    *bytes = 0;
    for (size_t got; rc == 0 && (got = fread(buf, 1, chunk, f)) > 0; *bytes += (int64_t)got)
        EVP_DigestUpdate(ctx, buf, got);
    if (rc == 0 && ferror(f)) rc = hr_fail(e, "%s: read error while hashing", path);
    unsigned char md[32];
    unsigned int len = 0;
    if (rc == 0) EVP_DigestFinal_ex(ctx, md, &len), to_hex(md, hex);
    EVP_MD_CTX_free(ctx);
    free(buf);
    fclose(f);
    return rc;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

int model_identity_compute(const char *dir, struct model_identity *id, struct hr_error *e)
{
    memset(id, 0, sizeof *id);
    struct st_archive a;
    if (st_open_dir(dir, &a, e) != 0) return -1;
    char config[4200], index[4200];
    snprintf(config, sizeof config, "%s/config.json", dir);
    snprintf(index, sizeof index, "%s/model.safetensors.index.json", dir);
    struct stat st;
    const bool sharded = stat(index, &st) == 0;
    const int n = 1 + sharded + (int)arrlen(a.files);
    const char **paths = malloc((size_t)n * sizeof *paths);
    id->files = calloc((size_t)n, sizeof *id->files);
    int rc = paths && id->files ? 0 : hr_fail(e, "%s: out of memory", dir);
    if (rc == 0) {
        int k = 0;
        paths[k++] = config;
        if (sharded) paths[k++] = index;
        for (ptrdiff_t i = 0; i < arrlen(a.files); i++) paths[k++] = a.files[i].path;
        if (a.mapped_bytes > ((size_t)1 << 30))
            fprintf(stderr, "hyrecall: hashing %s (%.1f GiB) to record which weights ran\n", dir,
                    (double)a.mapped_bytes / (1 << 30));
    }
    for (int i = 0; rc == 0 && i < n; i++) {
        id->files[i].name = strdup(base_name(paths[i]));
        id->num_files = i + 1;
        rc = sha256_file(paths[i], id->files[i].sha256, &id->files[i].bytes, e);
    }
    free(paths);
    st_close_archive(&a);
    if (rc != 0) model_identity_free(id);
    return rc;
}

void model_identity_free(struct model_identity *id)
{
    for (int i = 0; i < id->num_files; i++) free(id->files[i].name);
    free(id->files);
    memset(id, 0, sizeof *id);
}

cJSON *model_identity_json(const struct model_identity *id)
{
    cJSON *o = cJSON_CreateObject(), *files = cJSON_AddArrayToObject(o, "files");
    for (int i = 0; i < id->num_files; i++) {
        cJSON *f = cJSON_CreateObject();
        cJSON_AddStringToObject(f, "file", id->files[i].name);
        cJSON_AddStringToObject(f, "sha256", id->files[i].sha256);
        cJSON_AddNumberToObject(f, "bytes", (double)id->files[i].bytes);
        cJSON_AddItemToArray(files, f);
    }
    return o;
}

int model_identity_check(const cJSON *current, const cJSON *recorded, const char *what, struct hr_error *e)
{
    const cJSON *now = cJSON_GetObjectItemCaseSensitive(current, "files"),
                *was = cJSON_GetObjectItemCaseSensitive(recorded, "files");
    if (!cJSON_IsArray(was)) return hr_fail(e, "%s: the record lists no model files to compare", what);
    for (const cJSON *f = now ? now->child : NULL; f; f = f->next) {
        const char *name = cJSON_GetObjectItemCaseSensitive(f, "file")->valuestring,
                   *sha = cJSON_GetObjectItemCaseSensitive(f, "sha256")->valuestring;
        const cJSON *match = NULL;
        for (const cJSON *g = was->child; g && !match; g = g->next) {
            const cJSON *n = cJSON_GetObjectItemCaseSensitive(g, "file");
            if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0) match = g;
        }
        if (!match) return hr_fail(e, "%s: %s was not part of the recorded model", what, name);
        const cJSON *old = cJSON_GetObjectItemCaseSensitive(match, "sha256");
        if (!cJSON_IsString(old) || strcmp(old->valuestring, sha) != 0)
            return hr_fail(e, "%s: %s has SHA-256 %.16s..., the recorded run's had %.16s...", what, name, sha,
                           cJSON_IsString(old) ? old->valuestring : "(none)");
    }
    if (cJSON_GetArraySize(was) != cJSON_GetArraySize(now))
        return hr_fail(e, "%s: the recorded model had %d files, this one has %d", what, cJSON_GetArraySize(was),
                       cJSON_GetArraySize(now));
    return 0;
}

int build_provenance_meta(const char **meta, char *threads_text, size_t n)
{
    snprintf(threads_text, n, "%d", cpu_threads());
    const char *pairs[] = {
        "hyrecall_version",  build_version(), "git_commit", build_commit(), "openblas_core",
        cpu_openblas_core(), "threads",       threads_text, "compute",      compute_name(linear_compute())};
    for (int i = 0; i < 10; i++) meta[i] = pairs[i];
    return 10;
}

cJSON *build_provenance_json(void)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "hyrecall_version", build_version());
    cJSON_AddStringToObject(o, "git_commit", build_commit());
    cJSON_AddStringToObject(o, "openblas_core", cpu_openblas_core());
    cJSON_AddNumberToObject(o, "threads", cpu_threads());
    cJSON_AddStringToObject(o, "compute", compute_name(linear_compute()));
    return o;
}

/* {"dir", "files"} of DIR. */
/* Directories already hashed in this process, by their real path, so that a
 * model named twice in one run (a variant and another's restore base) is read
 * once. */
#define HASHED_MAX 16
static struct {
    char *real;
    cJSON *identity;
} hashed[HASHED_MAX];
static int num_hashed;

static cJSON *identity_record(const char *dir, struct hr_error *e)
{
    char *real = realpath(dir, NULL);
    const cJSON *known = NULL;
    for (int i = 0; real && i < num_hashed && !known; i++)
        if (strcmp(hashed[i].real, real) == 0) known = hashed[i].identity;
    cJSON *o;
    if (known) {
        o = cJSON_Duplicate(known, true);
        free(real);
    } else {
        struct model_identity id;
        if (model_identity_compute(dir, &id, e) != 0) return free(real), NULL;
        o = model_identity_json(&id);
        model_identity_free(&id);
        if (real && num_hashed < HASHED_MAX) {
            hashed[num_hashed].real = real;
            hashed[num_hashed++].identity = cJSON_Duplicate(o, true);
        } else {
            free(real);
        }
    }
    cJSON_AddItemToObject(o, "dir", cJSON_CreateString(dir));
    return o;
}

cJSON *model_provenance_json(const char *dir, const struct restore_options *r, struct hr_error *e)
{
    cJSON *p = cJSON_CreateObject(), *model = identity_record(dir, e);
    if (!model) return cJSON_Delete(p), NULL;
    cJSON_AddItemToObject(p, "model", model);
    cJSON *restore = restore_options_json(r);
    if (restore) {
        cJSON *base = identity_record(r->base_dir, e);
        if (!base) return cJSON_Delete(restore), cJSON_Delete(p), NULL;
        cJSON_AddItemToObject(restore, "base_files", cJSON_DetachItemFromObject(base, "files"));
        cJSON_Delete(base);
        cJSON_AddItemToObject(p, "restore", restore);
    }
    return p;
}

cJSON *provenance_for_model(const char *dir, const struct restore_options *r, struct hr_error *e)
{
    cJSON *model = model_provenance_json(dir, r, e);
    if (!model) return NULL;
    cJSON *p = build_provenance_json();
    while (model->child) {
        cJSON *item = cJSON_DetachItemViaPointer(model, model->child);
        cJSON_AddItemToObject(p, item->string, item);
    }
    cJSON_Delete(model);
    return p;
}
