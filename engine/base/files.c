#define _XOPEN_SOURCE 700 /* nftw */
#include "engine/base/files.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *read_text_file(const char *path, long *len_out, struct hr_error *e)
{
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        hr_fail(e, "%s: is a directory, not a file", path);
        return NULL;
    }
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        hr_fail(e, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    long len = -1;
    if (fseek(fp, 0, SEEK_END) == 0) len = ftell(fp);
    if (len >= 0 && fseek(fp, 0, SEEK_SET) == 0) buf = malloc((size_t)len + 1);
    if (!buf || fread(buf, 1, (size_t)len, fp) != (size_t)len) {
        free(buf);
        fclose(fp);
        hr_fail(e, "%s: cannot read", path);
        return NULL;
    }
    fclose(fp);
    buf[len] = '\0';
    if (len_out) *len_out = len;
    return buf;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

int remove_tree(const char *path)
{
    if (access(path, F_OK) != 0) return 0;
    return nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS); /* children first, links not followed */
}

static void release(struct atomic_output *o)
{
    free(o->target);
    free(o->tmp);
    o->target = o->tmp = NULL;
}

/* The directory a path would be created in, for error messages. */
static void parent_of(const char *path, char *out, size_t n)
{
    snprintf(out, n, "%s", path);
    char *slash = strrchr(out, '/');
    if (!slash)
        snprintf(out, n, ".");
    else if (slash == out)
        out[1] = '\0';
    else
        *slash = '\0';
}

int atomic_begin(struct atomic_output *o, enum atomic_kind kind, const char *target, bool overwrite, struct hr_error *e)
{
    memset(o, 0, sizeof *o);
    o->kind = kind;
    o->overwrite = overwrite;
    struct stat st;
    const bool exists = stat(target, &st) == 0;
    if (kind == ATOMIC_MERGE && !(exists && S_ISDIR(st.st_mode))) return hr_fail(e, "%s: not a directory", target);
    if (kind == ATOMIC_FILE && exists && S_ISDIR(st.st_mode))
        return hr_fail(e, "%s: is a directory; give a file name", target);
    if (kind != ATOMIC_MERGE && exists && !overwrite)
        return hr_fail(e, "%s: already exists; refusing to overwrite", target);
    o->target = strdup(target);
    /* Beside the target (ATOMIC_MERGE: inside it), hidden, unique per process. */
    const size_t n = strlen(target) + 64;
    o->tmp = malloc(n);
    if (!o->target || !o->tmp) {
        release(o);
        return hr_fail(e, "%s: out of memory", target);
    }
    if (kind == ATOMIC_MERGE) {
        snprintf(o->tmp, n, "%s/.hyrecall-tmp.%ld", target, (long)getpid());
    } else {
        char dir[4096];
        parent_of(target, dir, sizeof dir);
        const char *base = strrchr(target, '/') ? strrchr(target, '/') + 1 : target;
        snprintf(o->tmp, n, "%s/.%s.hyrecall-tmp.%ld", dir, base, (long)getpid());
        if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
            hr_fail(e, "%s: cannot create: directory %s does not exist", target, dir);
            release(o);
            return -1;
        }
    }
    remove_tree(o->tmp); /* a leftover of an earlier process with our pid */
    if (kind != ATOMIC_FILE && mkdir(o->tmp, 0755) != 0) {
        hr_fail(e, "%s: cannot create: %s", target, strerror(errno));
        release(o);
        return -1;
    }
    return 0;
}

FILE *atomic_open(struct atomic_output *o, struct hr_error *e)
{
    FILE *f = fopen(o->tmp, "wb");
    if (!f) hr_fail(e, "%s: cannot create: %s", o->target, strerror(errno));
    return f;
}

int atomic_commit(struct atomic_output *o, struct hr_error *e)
{
    int rc = 0;
    if (o->kind == ATOMIC_MERGE) {
        DIR *d = opendir(o->tmp);
        if (!d) rc = hr_fail(e, "%s: cannot read: %s", o->target, strerror(errno));
        for (struct dirent *ent; d && rc == 0 && (ent = readdir(d));) {
            if (ent->d_name[0] == '.') continue;
            char from[8192], to[8192];
            snprintf(from, sizeof from, "%s/%s", o->tmp, ent->d_name);
            snprintf(to, sizeof to, "%s/%s", o->target, ent->d_name);
            if (rename(from, to) != 0) rc = hr_fail(e, "%s: cannot write: %s", to, strerror(errno));
        }
        if (d) closedir(d);
    } else if (!o->overwrite && access(o->target, F_OK) == 0) {
        rc = hr_fail(e, "%s: appeared while writing; refusing to overwrite", o->target);
    } else if (rename(o->tmp, o->target) != 0) {
        rc = hr_fail(e, "%s: cannot write: %s", o->target, strerror(errno));
    }
    if (rc != 0 || o->kind == ATOMIC_MERGE) remove_tree(o->tmp);
    release(o);
    return rc;
}

void atomic_abort(struct atomic_output *o)
{
    if (o->tmp) remove_tree(o->tmp);
    release(o);
}

int write_text_file_atomic(const char *path, const char *text, bool overwrite, struct hr_error *e)
{
    struct atomic_output o;
    if (atomic_begin(&o, ATOMIC_FILE, path, overwrite, e)) return -1;
    FILE *f = atomic_open(&o, e);
    if (!f) {
        atomic_abort(&o);
        return -1;
    }
    const bool bad = fputs(text, f) < 0;
    if (fclose(f) != 0 || bad) {
        hr_fail(e, "%s: write failed", path);
        atomic_abort(&o);
        return -1;
    }
    return atomic_commit(&o, e);
}
