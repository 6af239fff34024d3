/* Files: reading a whole text file, and writing outputs all at once.
 *
 * Every output hyrecall writes (a checkpoint directory, a safetensors dump, a
 * NIAH run directory's reports, a bench JSON) goes through one atomic writer:
 * the work happens under a temporary name beside the target, on the same
 * file system, and only a finished output is renamed into place (rename(2) is
 * atomic there). A failure or an interrupted process leaves the old state,
 * never a partial file; the temporary is removed on every failure path. */
#ifndef HYRECALL_BASE_FILES_H
#define HYRECALL_BASE_FILES_H

#include <stdbool.h>
#include <stdio.h>

#include "engine/base/error.h"

/* The whole file, NUL-terminated (caller frees); *len_out its length when
 * non-NULL. NULL with e naming the file on failure. */
char *read_text_file(const char *path, long *len_out, struct hr_error *e);

enum atomic_kind {
    ATOMIC_FILE,      /* a new file at target */
    ATOMIC_DIRECTORY, /* a new directory at target, filled under tmp */
    ATOMIC_MERGE,     /* files added to the existing directory target, each replacing its namesake */
};

struct atomic_output {
    enum atomic_kind kind;
    bool overwrite; /* ATOMIC_FILE: replace an existing target (else refuse) */
    char *target;
    char *tmp; /* write here: a file name (ATOMIC_FILE) or a directory */
};

/* Checks that target may be written (it must not exist, unless overwrite or
 * ATOMIC_MERGE, where it must be a directory) and creates the temporary: for
 * ATOMIC_FILE nothing yet (open o->tmp yourself, or use atomic_open), for the
 * others an empty directory. Errors name target, never the temporary. */
int atomic_begin(struct atomic_output *o, enum atomic_kind kind, const char *target, bool overwrite,
                 struct hr_error *e);
/* ATOMIC_FILE: opens o->tmp for writing ("wb"). */
FILE *atomic_open(struct atomic_output *o, struct hr_error *e);
/* Moves the finished temporary into place (rechecking that a target which
 * must not exist has not appeared meanwhile), then releases o. On failure
 * the temporary is removed, as by atomic_abort. */
int atomic_commit(struct atomic_output *o, struct hr_error *e);
/* Removes the temporary (a directory with everything under it) and releases o. */
void atomic_abort(struct atomic_output *o);

/* text as the whole contents of path, through the writer above. */
int write_text_file_atomic(const char *path, const char *text, bool overwrite, struct hr_error *e);

/* Removes path and, for a directory, everything under it (no symlinks followed). */
int remove_tree(const char *path);

#endif
