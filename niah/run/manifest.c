/* What a NIAH run directory records about its run: run.json's manifest (what
 * a resumed run must match), the provenance of the build and of every
 * variant's models, and the metadata summary.json carries. */
#include <cJSON.h>

#include "engine/hyrecall.h"
#include "niah/run/niah_run.h"

/* The restore a variant runs with: its own (NAME=DIR+METHOD@BASE) or the run's. */
static struct restore_options variant_restore(const struct niah_options *o, int vi)
{
    return variant_restore_options(&o->variants[vi], &o->restore);
}

/* The record of the build and of every variant's models (by content),
 * hashed once per run: run.json's and summary.json's "provenance". */
cJSON *niah_run_provenance(const struct niah_options *o, struct hr_error *e)
{
    cJSON *p = build_provenance_json(), *vs = cJSON_AddArrayToObject(p, "variants");
    cJSON_AddNumberToObject(p, "processes", niah_mpi_size());
    for (int i = 0; i < o->num_variants; i++) {
        const struct restore_options r = variant_restore(o, i);
        cJSON *v = model_provenance_json(o->variants[i].dir, &r, e);
        if (!v) return cJSON_Delete(p), NULL;
        cJSON_AddStringToObject(v, "name", o->variants[i].name);
        cJSON_AddItemToArray(vs, v);
    }
    return p;
}

cJSON *niah_run_meta(const struct niah_options *o, const struct essay *es, const char *tok_path,
                     const cJSON *provenance, double elapsed)
{
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "hyrecall_version", build_version());
    if (o->model_dir) cJSON_AddStringToObject(m, "model", o->model_dir);
    cJSON *vs = cJSON_AddArrayToObject(m, "variants");
    for (int i = 0; i < o->num_variants; i++) {
        cJSON *v = cJSON_CreateObject();
        cJSON_AddStringToObject(v, "name", o->variants[i].name);
        cJSON_AddStringToObject(v, "model", o->variants[i].dir);
        if (o->variants[i].base[0]) {
            cJSON_AddStringToObject(v, "restore_from", o->variants[i].base);
            cJSON_AddStringToObject(v, "restore", o->variants[i].restore);
        }
        cJSON_AddItemToArray(vs, v);
    }
    cJSON_AddStringToObject(m, "tokenizer", tok_path);
    cJSON_AddStringToObject(m, "template", o->template_arg);
    cJSON_AddNumberToObject(m, "seed", (double)o->seed);
    cJSON_AddNumberToObject(m, "samples", (double)o->samples);
    cJSON_AddNumberToObject(m, "tokens_to_generate", (double)o->tokens_to_generate);
    cJSON_AddStringToObject(m, "depths", o->num_depths ? "grid" : "ruler-random");
    if (es->words) {
        cJSON_AddStringToObject(m, "haystack", o->haystack);
        cJSON_AddStringToObject(m, "haystack_sha256", es->sha256);
    }
    cJSON_AddStringToObject(m, "wordlists", o->wordlists);
    if (o->restore.base_dir) {
        cJSON_AddStringToObject(m, "restore_from", o->restore.base_dir);
        char spec[32];
        cJSON_AddStringToObject(m, "restore", restore_spec_name(&o->restore, spec, sizeof spec));
    }
    cJSON_AddNumberToObject(m, "threads", cpu_threads());
    cJSON_AddNumberToObject(m, "processes", niah_mpi_size());
    cJSON_AddNumberToObject(m, "elapsed_s", elapsed);
    if (provenance) cJSON_AddItemToObject(m, "provenance", cJSON_Duplicate(provenance, true));
    return m;
}

/* What defines a run's samples and predictions: a resumed run must match. */
cJSON *niah_run_manifest(const struct niah_options *o, const struct essay *es, const char *tok_sha256,
                         const cJSON *provenance)
{
    const cJSON *models = cJSON_GetObjectItemCaseSensitive(provenance, "variants");
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "format", "hyrecall-niah-run-v1");
    cJSON *vs = cJSON_AddArrayToObject(m, "variants");
    for (int i = 0; i < o->num_variants; i++) {
        cJSON *v = cJSON_CreateObject();
        cJSON_AddStringToObject(v, "name", o->variants[i].name);
        /* The models by content (provenance.h): another spelling of the same
         * directory resumes, other weights in the same place do not. */
        const cJSON *record = cJSON_GetArrayItem(models, i);
        cJSON *files = cJSON_AddObjectToObject(v, "model_files");
        cJSON_AddItemToObject(
            files, "files",
            cJSON_Duplicate(
                cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(record, "model"), "files"), true));
        const bool restored = o->variants[i].base[0] || o->restore.base_dir;
        if (restored) {
            const struct restore_options rv = variant_restore(o, i), *r = &rv;
            cJSON *base = cJSON_AddObjectToObject(v, "restore_from_files");
            cJSON_AddItemToObject(
                base, "files",
                cJSON_Duplicate(
                    cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(record, "restore"), "base_files"),
                    true));
            char spec[32], parts[32];
            cJSON_AddStringToObject(v, "restore", restore_spec_name(r, spec, sizeof spec));
            cJSON_AddStringToObject(v, "restore_parts", restore_parts_name(r->parts, parts, sizeof parts));
            cJSON_AddNumberToObject(v, "restore_scope", r->scope);
            cJSON *layers = cJSON_AddArrayToObject(v, "restore_layers");
            for (int k = 0; k < r->num_layers; k++) cJSON_AddItemToArray(layers, cJSON_CreateNumber(r->layers[k]));
            cJSON_AddNumberToObject(v, "procrustes_alpha", r->alpha);
            cJSON_AddBoolToObject(v, "restore_biases", r->with_biases);
            cJSON_AddBoolToObject(v, "restore_norms", r->with_norms);
        }
        cJSON_AddItemToArray(vs, v);
    }
    cJSON *tasks = cJSON_AddArrayToObject(m, "tasks");
    for (int t = 0; t < o->num_tasks; t++) cJSON_AddItemToArray(tasks, cJSON_CreateString(o->tasks[t]->name));
    cJSON *lengths = cJSON_AddArrayToObject(m, "lengths");
    for (int l = 0; l < o->num_lengths; l++) cJSON_AddItemToArray(lengths, cJSON_CreateNumber((double)o->lengths[l]));
    cJSON *depths = cJSON_AddArrayToObject(m, "depths");
    for (int d = 0; d < o->num_depths; d++) cJSON_AddItemToArray(depths, cJSON_CreateNumber(o->depths[d]));
    cJSON_AddNumberToObject(m, "samples", (double)o->samples);
    cJSON_AddNumberToObject(m, "seed", (double)o->seed);
    cJSON_AddStringToObject(m, "template", o->wrapper);
    cJSON_AddNumberToObject(m, "tokens_to_generate", (double)o->tokens_to_generate);
    cJSON_AddStringToObject(m, "tokenizer_sha256", tok_sha256);
    cJSON_AddStringToObject(m, "haystack_sha256", es->words ? es->sha256 : "");
    cJSON_AddStringToObject(m, "wordlists", o->wordlists);
    cJSON_AddBoolToObject(m, "save_inputs", o->save_inputs);
    if (o->lens) cJSON_AddBoolToObject(m, "lens", true);
    if (linear_compute() == COMPUTE_BF16) cJSON_AddStringToObject(m, "compute", "bf16"); /* f32 runs stay as before */
    if (o->prompts) cJSON_AddStringToObject(m, "prompts", o->prompts);
    return m;
}
