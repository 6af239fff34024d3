#include "engine/load/safetensors.h"

#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/base/files.h"
#include "stb_ds.h"

/* ---- reading ---------------------------------------------------------- */

static int parse_tensor_entry(const char *path, const cJSON *item, size_t data_size, const unsigned char *data,
                              struct st_tensor *t, struct hr_error *e)
{
    const char *name = item->string;
    if (!cJSON_IsObject(item)) return hr_fail(e, "%s: tensor '%s': entry is not a JSON object", path, name);

    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    if (!cJSON_IsString(dt)) return hr_fail(e, "%s: tensor '%s': field 'dtype' missing or not a string", path, name);
    if (dtype_parse(dt->valuestring, &t->dtype) != 0)
        return hr_fail(e, "%s: tensor '%s': unknown dtype '%s'", path, name, dt->valuestring);

    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
    if (!cJSON_IsArray(shape)) return hr_fail(e, "%s: tensor '%s': field 'shape' missing or not an array", path, name);
    t->ndim = cJSON_GetArraySize(shape);
    if (t->ndim > ST_MAX_DIMS)
        return hr_fail(e, "%s: tensor '%s': field 'shape' has %d dimensions (at most %d supported)", path, name,
                       t->ndim, ST_MAX_DIMS);
    int64_t numel = 1;
    for (int d = 0; d < t->ndim; d++) {
        const cJSON *s = cJSON_GetArrayItem(shape, d);
        /* cJSON stores numbers as double: integers are exact up to 2^53. */
        if (!cJSON_IsNumber(s) || s->valuedouble < 0 || s->valuedouble > 9007199254740992.0 ||
            s->valuedouble != (double)(int64_t)s->valuedouble)
            return hr_fail(e, "%s: tensor '%s': field 'shape'[%d] is not a non-negative integer", path, name, d);
        t->shape[d] = (int64_t)s->valuedouble;
        if (t->shape[d] != 0 && numel > INT64_MAX / t->shape[d])
            return hr_fail(e, "%s: tensor '%s': field 'shape' element count overflows", path, name);
        numel *= t->shape[d];
    }
    t->numel = numel;

    const cJSON *off = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2)
        return hr_fail(e, "%s: tensor '%s': field 'data_offsets' missing or not [begin, end]", path, name);
    double b = cJSON_GetArrayItem(off, 0)->valuedouble, en = cJSON_GetArrayItem(off, 1)->valuedouble;
    /* Range first: converting a double beyond int64 to an integer is undefined. */
    if (!cJSON_IsNumber(cJSON_GetArrayItem(off, 0)) || !cJSON_IsNumber(cJSON_GetArrayItem(off, 1)) || !(b >= 0) ||
        !(en >= b) || en > 9007199254740992.0 || b != floor(b) || en != floor(en))
        return hr_fail(e, "%s: tensor '%s': field 'data_offsets' is not a pair of integers begin <= end", path, name);
    if (en > (double)data_size)
        return hr_fail(e, "%s: tensor '%s': field 'data_offsets' [%.0f, %.0f) runs past the data region (%zu bytes)",
                       path, name, b, en, data_size);
    size_t nbytes = (size_t)(en - b);
    if ((uint64_t)numel > SIZE_MAX / dtype_size(t->dtype) || nbytes != (size_t)numel * dtype_size(t->dtype))
        return hr_fail(e, "%s: tensor '%s': data_offsets span %zu bytes but shape x dtype %s needs %lld x %zu", path,
                       name, nbytes, dtype_name(t->dtype), (long long)numel, dtype_size(t->dtype));
    t->data = data + (size_t)b;
    t->nbytes = nbytes;
    t->path = path;
    t->name = strdup(name);
    return 0;
}

static int by_begin(const void *a, const void *b)
{
    const struct st_tensor *x = *(const struct st_tensor *const *)a, *y = *(const struct st_tensor *const *)b;
    const unsigned char *px = x->data, *py = y->data;
    return px < py ? -1 : px > py ? 1 : (x->nbytes > y->nbytes) - (x->nbytes < y->nbytes);
}

/* The format's own rules: tensors are packed, non-overlapping and cover the
 * data region exactly (the reference loader rejects holes too). */
static int check_layout(const struct st_file *f, const unsigned char *data, size_t data_size, struct hr_error *e)
{
    size_t n = (size_t)arrlen(f->tensors);
    const struct st_tensor **order = malloc((n ? n : 1) * sizeof *order);
    if (!order) return hr_fail(e, "%s: out of memory", f->path);
    for (size_t i = 0; i < n; i++) order[i] = &f->tensors[i];
    qsort(order, n, sizeof *order, by_begin);
    size_t expect = 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        size_t begin = (size_t)((const unsigned char *)order[i]->data - data);
        if (begin < expect)
            rc = hr_fail(e, "%s: tensor '%s': data_offsets overlap tensor '%s'", f->path, order[i]->name,
                         order[i - 1]->name);
        else if (begin > expect)
            rc = hr_fail(e, "%s: tensor '%s': data_offsets leave a gap of %zu bytes before it", f->path, order[i]->name,
                         begin - expect);
        expect = begin + order[i]->nbytes;
    }
    if (rc == 0 && expect != data_size)
        rc = hr_fail(e, "%s: data region is %zu bytes but tensors cover %zu", f->path, data_size, expect);
    free(order);
    return rc;
}

static int parse_header(struct st_file *f, const char *json, size_t json_len, const unsigned char *data,
                        size_t data_size, struct hr_error *e)
{
    cJSON *root = cJSON_ParseWithLength(json, json_len);
    if (!root) return hr_fail(e, "%s: header is not valid JSON", f->path);
    int rc = 0;
    if (!cJSON_IsObject(root)) rc = hr_fail(e, "%s: header is not a JSON object", f->path);
    struct {
        char *key;
        int value;
    } *seen = NULL;
    sh_new_strdup(seen);
    for (const cJSON *it = root->child; it && rc == 0; it = it->next) {
        if (shgeti(seen, it->string) >= 0) {
            rc = hr_fail(e, "%s: tensor '%s' appears twice in the header", f->path, it->string);
            break;
        }
        shput(seen, it->string, 1);
        if (strcmp(it->string, "__metadata__") == 0) {
            if (!cJSON_IsObject(it)) {
                rc = hr_fail(e, "%s: field '__metadata__' is not an object", f->path);
                break;
            }
            for (const cJSON *m = it->child; m; m = m->next) {
                if (!cJSON_IsString(m)) {
                    rc = hr_fail(e, "%s: field '__metadata__.%s' is not a string", f->path, m->string);
                    break;
                }
                arrput(f->meta_keys, strdup(m->string));
                arrput(f->meta_values, strdup(m->valuestring));
            }
            continue;
        }
        struct st_tensor t = {0};
        rc = parse_tensor_entry(f->path, it, data_size, data, &t, e);
        if (rc == 0) arrput(f->tensors, t);
    }
    shfree(seen);
    cJSON_Delete(root);
    if (rc == 0) rc = check_layout(f, data, data_size, e);
    return rc;
}

/* The checks and the header, on bytes already in memory. */
static int parse_bytes(struct st_file *f, const unsigned char *bytes, size_t size, struct hr_error *e)
{
    const char *path = f->path;
    if (size < 8) return hr_fail(e, "%s: file is %zu bytes, shorter than the 8-byte header length", path, size);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | bytes[i]; /* little-endian u64 */
    if (n > size - 8)
        return hr_fail(e, "%s: header length %llu runs past the end of the file (%zu bytes)", path,
                       (unsigned long long)n, size);
    if (n > ST_MAX_HEADER_BYTES)
        return hr_fail(e, "%s: header length %llu exceeds the %u-byte limit", path, (unsigned long long)n,
                       ST_MAX_HEADER_BYTES);
    return parse_header(f, (const char *)bytes + 8, (size_t)n, bytes + 8 + n, size - 8 - (size_t)n, e);
}

int st_open_memory(const char *label, const void *data, size_t size, struct st_file *f, struct hr_error *e)
{
    memset(f, 0, sizeof *f);
    f->path = strdup(label);
    if (parse_bytes(f, data, size, e) == 0) return 0;
    st_close_file(f);
    return -1;
}

int st_open_file(const char *path, struct st_file *f, struct hr_error *e)
{
    memset(f, 0, sizeof *f);
    f->path = strdup(path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        hr_fail(e, "%s: cannot open: %s", path, strerror(errno));
        goto fail;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        hr_fail(e, "%s: not a regular file", path);
        goto fail;
    }
    size_t size = (size_t)sb.st_size;
    if (size < 8) {
        close(fd);
        hr_fail(e, "%s: file is %zu bytes, shorter than the 8-byte header length", path, size);
        goto fail;
    }
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        hr_fail(e, "%s: mmap failed: %s", path, strerror(errno));
        goto fail;
    }
    f->map = map;
    f->map_size = size;
    if (parse_bytes(f, map, size, e) != 0) goto fail;
    /* Weights are streamed front to back by every forward pass. */
    madvise(map, size, MADV_WILLNEED);
    return 0;
fail:
    st_close_file(f);
    return -1;
}

void st_close_file(struct st_file *f)
{
    for (ptrdiff_t i = 0; i < arrlen(f->tensors); i++) free(f->tensors[i].name);
    arrfree(f->tensors);
    for (ptrdiff_t i = 0; i < arrlen(f->meta_keys); i++) free(f->meta_keys[i]);
    for (ptrdiff_t i = 0; i < arrlen(f->meta_values); i++) free(f->meta_values[i]);
    arrfree(f->meta_keys);
    arrfree(f->meta_values);
    if (f->map) munmap(f->map, f->map_size);
    free(f->path);
    memset(f, 0, sizeof *f);
}

const struct st_tensor *st_file_find(const struct st_file *f, const char *name)
{
    for (ptrdiff_t i = 0; i < arrlen(f->tensors); i++)
        if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
    return NULL;
}

/* ---- archives (single file or shards) ---------------------------------- */

static char *path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static int archive_add_file(struct st_archive *a, const char *path, struct hr_error *e)
{
    struct st_file f;
    if (st_open_file(path, &f, e) != 0) return -1;
    arrput(a->files, f);
    return 0;
}

/* Reads model.safetensors.index.json: {"weight_map": {tensor: shard file}}. */
static int open_sharded(const char *dir, const char *index_path, struct st_archive *a, cJSON **weight_map_out,
                        struct hr_error *e)
{
    FILE *fp = fopen(index_path, "rb");
    if (!fp) return hr_fail(e, "%s: cannot open: %s", index_path, strerror(errno));
    fseek(fp, 0, SEEK_END);
    long len = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *buf = malloc((size_t)(len > 0 ? len : 1));
    size_t got = buf ? fread(buf, 1, (size_t)len, fp) : 0;
    fclose(fp);
    cJSON *root = (buf && got == (size_t)len) ? cJSON_ParseWithLength(buf, (size_t)len) : NULL;
    free(buf);
    if (!root) return hr_fail(e, "%s: not valid JSON", index_path);
    cJSON *wm = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    if (!cJSON_IsObject(wm)) {
        cJSON_Delete(root);
        return hr_fail(e, "%s: field 'weight_map' missing or not an object", index_path);
    }
    /* Open each distinct shard once, in order of first mention. */
    char **opened = NULL;
    int rc = 0;
    for (const cJSON *it = wm->child; it && rc == 0; it = it->next) {
        if (!cJSON_IsString(it) || strchr(it->valuestring, '/') || strcmp(it->valuestring, "..") == 0) {
            rc = hr_fail(e, "%s: field 'weight_map.%s' is not a file name in the model directory", index_path,
                         it->string);
            break;
        }
        bool seen = false;
        for (ptrdiff_t i = 0; i < arrlen(opened); i++) seen |= strcmp(opened[i], it->valuestring) == 0;
        if (seen) continue;
        arrput(opened, it->valuestring);
        char *p = path_join(dir, it->valuestring);
        rc = archive_add_file(a, p, e);
        free(p);
    }
    arrfree(opened);
    if (rc != 0) {
        cJSON_Delete(root);
        return -1;
    }
    *weight_map_out = root;
    return 0;
}

int st_open_dir(const char *dir, struct st_archive *a, struct hr_error *e)
{
    memset(a, 0, sizeof *a);
    sh_new_strdup(a->by_name);
    char *single = path_join(dir, "model.safetensors");
    char *index = path_join(dir, "model.safetensors.index.json");
    cJSON *index_root = NULL;
    int rc;
    if (access(index, F_OK) == 0)
        rc = open_sharded(dir, index, a, &index_root, e);
    else if (access(single, F_OK) == 0)
        rc = archive_add_file(a, single, e);
    else
        rc = hr_fail(e, "%s: no model.safetensors or model.safetensors.index.json", dir);

    for (ptrdiff_t fi = 0; rc == 0 && fi < arrlen(a->files); fi++) {
        struct st_file *f = &a->files[fi];
        a->mapped_bytes += f->map_size;
        for (ptrdiff_t ti = 0; ti < arrlen(f->tensors); ti++) {
            struct st_tensor *t = &f->tensors[ti];
            ptrdiff_t prev = shgeti(a->by_name, t->name);
            if (prev >= 0) {
                rc = hr_fail(e, "%s: tensor '%s' is also in %s", f->path, t->name, a->by_name[prev].value->path);
                break;
            }
            if (index_root) {
                const cJSON *wm = cJSON_GetObjectItemCaseSensitive(index_root, "weight_map");
                const cJSON *where = cJSON_GetObjectItemCaseSensitive(wm, t->name);
                const char *base = strrchr(f->path, '/') ? strrchr(f->path, '/') + 1 : f->path;
                if (!where || strcmp(where->valuestring, base) != 0) {
                    rc = hr_fail(e, "%s: tensor '%s' is not listed for this shard in %s", f->path, t->name, index);
                    break;
                }
            }
            shput(a->by_name, t->name, t);
        }
    }
    if (rc == 0 && index_root) {
        const cJSON *wm = cJSON_GetObjectItemCaseSensitive(index_root, "weight_map");
        for (const cJSON *it = wm->child; it; it = it->next)
            if (shgeti(a->by_name, it->string) < 0) {
                rc = hr_fail(e, "%s: field 'weight_map' names tensor '%s' but %s does not hold it", index, it->string,
                             it->valuestring);
                break;
            }
    }
    cJSON_Delete(index_root);
    free(single);
    free(index);
    if (rc != 0) st_close_archive(a);
    return rc;
}

void st_close_archive(struct st_archive *a)
{
    for (ptrdiff_t i = 0; i < arrlen(a->files); i++) st_close_file(&a->files[i]);
    arrfree(a->files);
    shfree(a->by_name);
    memset(a, 0, sizeof *a);
}

const struct st_tensor *st_find(const struct st_archive *a, const char *name)
{
    /* stb_ds lookups write a temporary into the map header: not const-clean. */
    struct st_archive *mut = (struct st_archive *)a;
    ptrdiff_t i = shgeti(mut->by_name, name);
    return i >= 0 ? mut->by_name[i].value : NULL;
}

size_t st_tensor_count(const struct st_archive *a)
{
    return (size_t)shlen(((struct st_archive *)a)->by_name);
}

/* ---- writing ------------------------------------------------------------ */

static int write_all(FILE *fp, const void *p, size_t n)
{
    return fwrite(p, 1, n, fp) == n ? 0 : -1;
}

int st_write_file(const char *path, const struct st_write_tensor *tensors, int n, const char *const *meta,
                  bool overwrite, struct hr_error *e)
{
    return st_write_file_with(path, tensors, n, meta, overwrite, NULL, NULL, e);
}

int st_write_file_with(const char *path, const struct st_write_tensor *tensors, int n, const char *const *meta,
                       bool overwrite, st_fill_fn fill, void *ctx, struct hr_error *e)
{
    cJSON *root = cJSON_CreateObject();
    if (meta && meta[0]) {
        cJSON *m = cJSON_AddObjectToObject(root, "__metadata__");
        for (int i = 0; meta[i] && meta[i + 1]; i += 2) cJSON_AddStringToObject(m, meta[i], meta[i + 1]);
    }
    size_t offset = 0;
    for (int i = 0; i < n; i++) {
        const struct st_write_tensor *t = &tensors[i];
        cJSON *o = cJSON_AddObjectToObject(root, t->name);
        cJSON_AddStringToObject(o, "dtype", dtype_name(t->dtype));
        cJSON *shape = cJSON_AddArrayToObject(o, "shape");
        size_t numel = 1;
        for (int d = 0; d < t->ndim; d++) {
            cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->shape[d]));
            numel *= (size_t)t->shape[d];
        }
        size_t nbytes = numel * dtype_size(t->dtype);
        cJSON *off = cJSON_AddArrayToObject(o, "data_offsets");
        cJSON_AddItemToArray(off, cJSON_CreateNumber((double)offset));
        cJSON_AddItemToArray(off, cJSON_CreateNumber((double)(offset + nbytes)));
        offset += nbytes;
    }
    char *json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!json) return hr_fail(e, "%s: out of memory building the header", path);
    size_t len = strlen(json), padded = (len + 7) & ~(size_t)7; /* 8-byte aligned data, as the reference pads */

    struct atomic_output out;
    if (atomic_begin(&out, ATOMIC_FILE, path, overwrite, e)) {
        free(json);
        return -1;
    }
    FILE *fp = atomic_open(&out, e);
    int rc = fp ? 0 : -1;
    if (fp) {
        unsigned char hdr[8];
        for (int i = 0; i < 8; i++) hdr[i] = (unsigned char)((uint64_t)padded >> (8 * i));
        rc |= write_all(fp, hdr, 8);
        rc |= write_all(fp, json, len);
        for (size_t i = len; i < padded; i++) rc |= write_all(fp, " ", 1);
        bool filled = true;
        for (int i = 0; i < n && rc == 0 && filled; i++) {
            size_t numel = 1;
            for (int d = 0; d < tensors[i].ndim; d++) numel *= (size_t)tensors[i].shape[d];
            const size_t nbytes = numel * dtype_size(tensors[i].dtype);
            if (!fill) {
                rc |= write_all(fp, tensors[i].data, nbytes);
                continue;
            }
            void *buf = malloc(nbytes ? nbytes : 1);
            if (!buf) hr_fail(e, "%s: out of memory", path);
            filled = buf && fill(ctx, i, buf, e) == 0;
            if (filled) rc |= write_all(fp, buf, nbytes);
            free(buf);
        }
        rc |= fflush(fp);
        if (rc == 0) rc |= fsync(fileno(fp));
        rc |= fclose(fp);
        if (!filled)
            rc = -1; /* e already says why */
        else if (rc != 0)
            hr_fail(e, "%s: write failed: %s", path, strerror(errno));
    }
    if (rc == 0)
        rc = atomic_commit(&out, e);
    else
        atomic_abort(&out);
    free(json);
    return rc;
}
