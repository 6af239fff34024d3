#include "niah/run/niah_resume.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/base/files.h"
#include "engine/hyrecall.h"
#include "stb_ds.h"

void niah_unit_key(const char *variant, const char *task, int64_t length, int index, int depth, char *out, size_t n)
{
    snprintf(out, n, "%s\t%s\t%lld\t%d\t%d", variant, task, (long long)length, index, depth);
}

/* The key of a predictions.jsonl line, or -1 when it lacks a field. */
static int line_key(const cJSON *o, char *out, size_t n)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "variant"), *t = cJSON_GetObjectItemCaseSensitive(o, "task"),
                *l = cJSON_GetObjectItemCaseSensitive(o, "length"), *i = cJSON_GetObjectItemCaseSensitive(o, "index"),
                *d = cJSON_GetObjectItemCaseSensitive(o, "depth");
    if (!cJSON_IsString(v) || !cJSON_IsString(t) || !cJSON_IsNumber(l) || !cJSON_IsNumber(i) || !cJSON_IsNumber(d))
        return -1;
    niah_unit_key(v->valuestring, t->valuestring, (int64_t)l->valuedouble, i->valueint, d->valueint, out, n);
    return 0;
}

/* The recorded variants against this run's: same names in the same order,
 * the same model files (by digest), the same restore. */
static int compare_variants(const char *out, const cJSON *now, const cJSON *old, struct hr_error *e)
{
    if (!cJSON_IsArray(old) || cJSON_GetArraySize(old) != cJSON_GetArraySize(now))
        return hr_fail(e, "%s holds a run with other variants (field 'variants' differs); choose another --out", out);
    int number = 0;
    for (const cJSON *a = now->child, *b = old->child; a && b; a = a->next, b = b->next) {
        number++;
        const char *name = cJSON_GetObjectItemCaseSensitive(a, "name")->valuestring;
        for (const cJSON *field = a->child; field; field = field->next) {
            const cJSON *was = cJSON_GetObjectItemCaseSensitive(b, field->string);
            char what[1200];
            snprintf(what, sizeof what, "%s holds a run of variant '%s' with other weights", out, name);
            if (strcmp(field->string, "model_files") == 0 || strcmp(field->string, "restore_from_files") == 0) {
                if (model_identity_check(field, was, what, e) != 0) return -1;
            } else if (!cJSON_Compare(field, was, true)) {
                return hr_fail(
                    e, "%s holds a run whose variant %d differs (field '%s': recorded %s); choose another --out", out,
                    number, field->string, was ? "otherwise" : "nothing");
            }
        }
        if (cJSON_GetArraySize(a) != cJSON_GetArraySize(b))
            return hr_fail(e, "%s holds a run whose variant '%s' has other settings; choose another --out", out, name);
    }
    return 0;
}

static bool dir_is_empty(const char *path)
{
    DIR *d = opendir(path);
    if (!d) return false;
    bool empty = true;
    for (struct dirent *ent; empty && (ent = readdir(d));)
        empty = strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0;
    closedir(d);
    return empty;
}

int niah_resume_prepare(const char *out, const cJSON *manifest, struct niah_resume *r, struct hr_error *e)
{
    memset(r, 0, sizeof *r);
    sh_new_strdup(r->done);
    if (access(out, F_OK) != 0 || dir_is_empty(out)) return 0; /* a new run (an empty directory is one too) */
    r->existed = true;
    char path[4200];
    snprintf(path, sizeof path, "%s/run.json", out);
    char *text = read_text_file(path, NULL, e);
    if (!text)
        return hr_fail(e, "%s exists and is not a hyrecall niah run (no readable run.json); choose another --out", out);
    cJSON *old = cJSON_Parse(text);
    free(text);
    if (!old) return hr_fail(e, "%s: not valid JSON", path);
    int rc = 0;
    for (const cJSON *it = manifest->child; it && rc == 0; it = it->next) {
        const cJSON *was = cJSON_GetObjectItemCaseSensitive(old, it->string);
        if (strcmp(it->string, "variants") == 0) {
            rc = compare_variants(out, it, was, e);
        } else if (strcmp(it->string, "samples") == 0) {
            r->recorded_samples = cJSON_IsNumber(was) ? (long)was->valuedouble : -1;
            if (r->recorded_samples < 1)
                rc = hr_fail(e, "%s: field 'samples' is missing or not a positive number", path);
            else if (r->recorded_samples < (long)it->valuedouble &&
                     cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(manifest, "depths")) > 0)
                rc = hr_fail(e,
                             "%s holds %ld samples per cell; with --depths a sample's place depends on the count, "
                             "so the run cannot be extended to %ld (choose another --out)",
                             out, r->recorded_samples, (long)it->valuedouble);
            else if (r->recorded_samples > (long)it->valuedouble)
                rc = hr_fail(e,
                             "%s holds %ld samples per cell; --samples %ld would drop some (give --samples %ld or "
                             "more to extend it, or choose another --out)",
                             out, r->recorded_samples, (long)it->valuedouble, r->recorded_samples);
        } else if (!cJSON_Compare(it, was, true)) {
            rc = hr_fail(e, "%s holds a run with another configuration (field '%s' differs); choose another --out", out,
                         it->string);
        }
    }
    cJSON_Delete(old);
    if (rc) return rc;
    snprintf(path, sizeof path, "%s/predictions.jsonl", out);
    if (access(path, F_OK) != 0) return 0;
    long len = 0;
    text = read_text_file(path, &len, e);
    if (!text) return -1;
    long keep = len;
    while (keep > 0 && text[keep - 1] != '\n') keep--; /* a line torn by a kill */
    int line_no = 0;
    for (char *line = text, *end; rc == 0 && line < text + keep; line = end + 1) {
        end = memchr(line, '\n', (size_t)(text + keep - line));
        *end = '\0';
        line_no++;
        cJSON *o = cJSON_Parse(line);
        char key[512];
        if (!o || line_key(o, key, sizeof key) != 0)
            rc = hr_fail(e, "%s: line %d is not a hyrecall prediction (variant, task, length, index, depth)", path,
                         line_no);
        else if (shgeti(r->done, key) >= 0)
            rc = hr_fail(e, "%s: line %d repeats an earlier sample", path, line_no);
        else
            shput(r->done, key, line_no), r->num_done++;
        cJSON_Delete(o);
    }
    free(text);
    if (rc) return rc;
    if (keep != len && truncate(path, keep) != 0) return hr_fail(e, "%s: cannot drop the torn last line", path);
    return 0;
}

bool niah_resume_done(struct niah_resume *r, const char *key)
{
    return r->done && shgeti(r->done, key) >= 0;
}

void niah_resume_free(struct niah_resume *r)
{
    shfree(r->done);
    memset(r, 0, sizeof *r);
}

struct placed_line {
    int place;
    char *text;
};

static int by_place(const void *a, const void *b)
{
    const struct placed_line *x = a, *y = b;
    return (x->place > y->place) - (x->place < y->place);
}

int niah_predictions_reorder(const char *out, struct niah_key_set *order, struct hr_error *e)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/predictions.jsonl", out);
    long len = 0;
    char *text = read_text_file(path, &len, e);
    if (!text) return -1;
    struct placed_line *lines = NULL;
    int rc = 0;
    bool sorted = true;
    for (char *line = text, *end; rc == 0 && line < text + len; line = end + 1) {
        end = memchr(line, '\n', (size_t)(text + len - line));
        if (!end) break;
        *end = '\0';
        cJSON *o = cJSON_Parse(line);
        char key[512];
        const ptrdiff_t at = o && line_key(o, key, sizeof key) == 0 ? shgeti(order, key) : -1;
        cJSON_Delete(o);
        if (at < 0) {
            rc = hr_fail(e, "%s: line %d is not a sample of this run", path, (int)arrlen(lines) + 1);
            break;
        }
        struct placed_line p = {order[at].value, line};
        if (arrlen(lines) && lines[arrlen(lines) - 1].place > p.place) sorted = false;
        arrput(lines, p);
    }
    if (rc == 0 && !sorted) {
        qsort(lines, (size_t)arrlen(lines), sizeof *lines, by_place);
        struct atomic_output out;
        FILE *f = atomic_begin(&out, ATOMIC_FILE, path, true, e) == 0 ? atomic_open(&out, e) : NULL;
        bool bad = !f;
        for (ptrdiff_t i = 0; !bad && i < arrlen(lines); i++) bad = fputs(lines[i].text, f) < 0 || fputc('\n', f) < 0;
        if (f) bad |= fclose(f) != 0;
        if (bad || atomic_commit(&out, e) != 0) {
            if (out.tmp) atomic_abort(&out);
            rc = hr_fail(e, "%s: cannot rewrite in sample order", path);
        }
    }
    arrfree(lines);
    free(text);
    return rc;
}
