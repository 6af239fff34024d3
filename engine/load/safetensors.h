/* safetensors files, read by mmap (read-only) and written atomically.
 *
 * Format (https://github.com/huggingface/safetensors): an 8-byte little-endian
 * u64 N, then N bytes of JSON mapping tensor name -> {dtype, shape,
 * data_offsets: [begin, end)} (offsets relative to the first byte after the
 * header), plus an optional "__metadata__" object of string -> string.
 * Every rule of the format is checked when a file is opened, before any tensor
 * is read: see st_open_file. */
#ifndef HYRECALL_SAFETENSORS_H
#define HYRECALL_SAFETENSORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/base/error.h"
#include "engine/ops/dtype.h"

#define ST_MAX_DIMS 8
/* The reference implementation refuses headers above 100 MB. */
#define ST_MAX_HEADER_BYTES (100u * 1000u * 1000u)

struct st_tensor {
    char *name;
    enum dtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    int64_t numel;
    const void *data; /* inside the mapping; not necessarily aligned */
    size_t nbytes;
    const char *path; /* file holding it (owned by its st_file) */
};

struct st_file {
    char *path;
    void *map;
    size_t map_size;
    struct st_tensor *tensors;       /* stb_ds array, in header order */
    char **meta_keys, **meta_values; /* stb_ds arrays: __metadata__ */
};

/* All tensors of a checkpoint: one file, or the shards named by
 * model.safetensors.index.json. */
struct st_archive {
    struct st_file *files; /* stb_ds array */
    struct st_name_index {
        char *key;
        struct st_tensor *value;
    } * by_name; /* stb_ds string hash map */
    size_t mapped_bytes;
};

int st_open_file(const char *path, struct st_file *f, struct hr_error *e);
void st_close_file(struct st_file *f);
/* The same checks on bytes in memory (not copied: data must outlive f);
 * label names it in messages. */
int st_open_memory(const char *label, const void *data, size_t size, struct st_file *f, struct hr_error *e);
const struct st_tensor *st_file_find(const struct st_file *f, const char *name);

/* Opens DIR/model.safetensors, or the shards listed by
 * DIR/model.safetensors.index.json (whose weight_map must name exactly the
 * tensors the shards hold). Tensor names must be unique across shards. */
int st_open_dir(const char *dir, struct st_archive *a, struct hr_error *e);
void st_close_archive(struct st_archive *a);
const struct st_tensor *st_find(const struct st_archive *a, const char *name);
size_t st_tensor_count(const struct st_archive *a);

/* A tensor to write: data holds numel * dtype_size(dtype) bytes. */
struct st_write_tensor {
    const char *name;
    enum dtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    const void *data;
};

/* Writes a safetensors file atomically (engine/base/files.h), fsync'd.
 * Refuses to replace an existing file unless overwrite is true.
 * meta is NULL or a NULL-terminated list of key, value, key, value, ... */
int st_write_file(const char *path, const struct st_write_tensor *tensors, int n, const char *const *meta,
                  bool overwrite, struct hr_error *e);

/* The same, producing each tensor's bytes on demand: fill(ctx, i, buf) writes
 * tensor i's bytes into buf (tensors[i].data is ignored). Only one tensor is
 * held in memory at a time. */
typedef int (*st_fill_fn)(void *ctx, int index, void *buf, struct hr_error *e);
int st_write_file_with(const char *path, const struct st_write_tensor *tensors, int n, const char *const *meta,
                       bool overwrite, st_fill_fn fill, void *ctx, struct hr_error *e);

#endif
