/* What made an output. Every dump, run record and report carries the same
 * record, so that whoever reads it can tell which build, OpenBLAS kernel and
 * thread count made it, from which model files (their SHA-256, the digest the
 * Hugging Face Hub lists for each file), and with which restore applied. */
#ifndef HYRECALL_PROVENANCE_H
#define HYRECALL_PROVENANCE_H

#include <cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/base/error.h"
#include "engine/restore/restore.h"

/* SHA-256 (FIPS 180-4) of n bytes, as 64 lowercase hex digits and a NUL. */
void sha256_hex_of(const void *data, size_t n, char hex[65]);

struct file_digest {
    char *name; /* the file's name inside the model directory */
    char sha256[65];
    int64_t bytes;
};

/* A model directory by content: config.json, the index of a sharded
 * checkpoint when there is one, and every weight file. */
struct model_identity {
    struct file_digest *files; /* malloc'd, config.json first */
    int num_files;
};

/* Hashes DIR's files, once (a line on stderr first when they are large). */
int model_identity_compute(const char *dir, struct model_identity *id, struct hr_error *e);
void model_identity_free(struct model_identity *id);
/* {"files": [{"file", "sha256", "bytes"}, ...]} */
cJSON *model_identity_json(const struct model_identity *id);
/* 0 when `recorded` (model_identity_json of an earlier run) lists the same
 * files with the same digests as `current` (another); otherwise -1 and a
 * message, prefixed by `what`, naming the first file that differs. */
int model_identity_check(const cJSON *current, const cJSON *recorded, const char *what, struct hr_error *e);

/* {"hyrecall_version", "git_commit", "openblas_core", "threads", "compute"} */
cJSON *build_provenance_json(void);
/* The same five as safetensors metadata pairs (key, value, ...) into meta,
 * the thread count written into threads_text; returns the entries written (10). */
int build_provenance_meta(const char **meta, char *threads_text, size_t n);

/* "model": {"dir", "files"} of DIR and, when a restore is applied,
 * "restore": restore_options_json() (restore.h) with the base's "base_files". Hashes
 * DIR (and BASE) once; NULL on failure (a file that cannot be read). */
cJSON *model_provenance_json(const char *dir, const struct restore_options *r, struct hr_error *e);

/* The whole record of a run of one model: build_provenance_json()'s fields,
 * "model": {"dir", "files"} and, when a restore is applied, "restore":
 * restore_options_json() (restore.h) with the base's "base_files". Hashes DIR (and
 * BASE) once; NULL on failure (a file that cannot be read). */
cJSON *provenance_for_model(const char *dir, const struct restore_options *r, struct hr_error *e);

#endif
