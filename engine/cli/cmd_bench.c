/* hyrecall bench: throughput against this machine's measured limits. */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/bench.h"
#include "engine/base/files.h"
#include "engine/cli/cli.h"
#include "engine/hyrecall.h"

static const char *HELP =
    "usage: hyrecall bench -m MODEL_DIR [--contexts 1k,4k,16k,64k] [--decode-tokens N] [--threads N]\n"
    "                      [--project 128k,256k] [--json FILE] [--max-memory SIZE] [--compute f32|bf16]\n\n"
    "For each context: prefill throughput (tokens/s, and model FLOPs per second as a fraction of\n"
    "this machine's SGEMM peak) and decode throughput after that prompt (tokens/s, and bytes read per\n"
    "token as a fraction of its float32 weight-streaming bandwidth), with the run's peak resident\n"
    "memory. The peak (GFLOP/s) and bandwidth (GB/s) are measured just before and just after each\n"
    "run, and the fractions taken against the better of the two (a shared machine drifts by tens of\n"
    "percent over minutes). The FLOP and byte counts are the estimates documented in bench/bench.c.\n"
    "Prints a table; --json writes {machine: {sgemm_gflops, stream_gbs, threads, openblas_core, compute},\n"
    "runs: [{context, prefill_tokens_per_s, prefill_fraction_of_peak, decode_tokens_per_s,\n"
    "decode_fraction_of_bandwidth, peak_rss_bytes, sgemm_gflops, stream_gbs, prefill_by_kind,\n"
    "niah_sample_seconds}]} (machine: the best measured; each run: the limits its fractions use).\n"
    "prefill_by_kind splits the prefill's time (attention, linear_mixers, ffn, lm_head: seconds, GFLOP/s,\n"
    "fraction of peak; other: seconds) at the session's observer points; niah_sample_seconds is the\n"
    "prefill plus 32 decode steps, what one NIAH sample at that context costs here.\n"
    "--project LIST projects the prefill (by part) and one NIAH sample to longer contexts from the last\n"
    "measured context: each part keeps the FLOP rate it ran at, a decode step the bytes per second it\n"
    "read (labelled as projections; in --json as projections: [{context, from_context, prefill_seconds,\n"
    "prefill_by_kind, decode_step_seconds, niah_sample_seconds}]).\n"
    "--compute bf16 times the bf16 projections (see hyrecall run --help); the fractions stay those of\n"
    "the float32 SGEMM peak, and --json's machine gets compute and compute_isa.\n"
    "Defaults: contexts 1k,4k; 16 decode tokens.\n\n"
    "exit codes: 0 ok, 1 invalid model or out of memory, 2 usage error\n";

int cmd_bench(int argc, char **argv)
{
    const char *dir = NULL, *json_path = NULL;
    int64_t contexts[16] = {1024, 4096}, projected[16];
    int nc = 2, np = 0;
    long decode = 16, threads = 0;
    struct restore_options unused;
    restore_options_default(&unused);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(HELP, stdout);
            return EXIT_OK;
        }
        bool matched;
        if (strcmp(a, "--max-memory") == 0 || strcmp(a, "--compute") == 0) {
            if (cli_restore_flag("bench", argc, argv, &i, &unused, &matched)) return EXIT_USAGE;
            continue;
        }
        if (!(v = cli_value("bench", argc, argv, &i))) return EXIT_USAGE;
        if (strcmp(a, "-m") == 0 || strcmp(a, "--model") == 0)
            dir = v;
        else if (strcmp(a, "--json") == 0)
            json_path = v;
        else if (strcmp(a, "--decode-tokens") == 0) {
            if (cli_parse_int("bench", a, v, 1, 100000, &decode)) return EXIT_USAGE;
        } else if (strcmp(a, "--threads") == 0) {
            if (cli_parse_int("bench", a, v, 1, 4096, &threads)) return EXIT_USAGE;
        } else if (strcmp(a, "--contexts") == 0) {
            if (cli_parse_sizes("bench", a, v, 1, 1 << 24, contexts, 16, &nc)) return EXIT_USAGE;
        } else if (strcmp(a, "--project") == 0) {
            if (cli_parse_sizes("bench", a, v, 1, 1 << 24, projected, 16, &np)) return EXIT_USAGE;
        } else {
            cli_unknown_option("bench", a, HELP);
            return EXIT_USAGE;
        }
    }
    if (json_path && access(json_path, F_OK) == 0) { /* before the work, as every output (files.h) */
        fprintf(stderr, "hyrecall bench: %s: already exists; refusing to overwrite\n", json_path);
        return EXIT_RUNTIME;
    }
    if (!dir) {
        cli_usage_error("bench", "-m MODEL_DIR is required");
        return EXIT_USAGE;
    }
    cpu_set_threads((int)threads);
    struct model m;
    struct hr_error e;
    int64_t longest = 0;
    for (int i = 0; i < nc; i++) longest = contexts[i] > longest ? contexts[i] : longest;
    struct restore_options none;
    restore_options_default(&none);
    if (cli_load_model("bench", dir, &none, longest + decode, &m)) return EXIT_RUNTIME;
    printf("machine: %d threads, OpenBLAS core %s; SGEMM peak and weight streaming measured around each run\n",
           cpu_threads(), cpu_openblas_core());
    if (linear_compute() == COMPUTE_BF16) /* the fractions stay those of the float32 SGEMM peak */
        printf("compute: bf16 projections through oneDNN (%s); 'of peak' is of the float32 SGEMM peak\n",
               bf16_gemm_isa());
    printf("model:   %s (%s, %lld parameters)\n\n", dir, m.cfg.model_type, (long long)m.num_params);
    printf("%8s %14s %10s %8s %14s %10s %7s %12s\n", "context", "prefill tok/s", "of peak", "GFLOP/s", "decode tok/s",
           "of bw", "GB/s", "peak RSS");
    cJSON *root = cJSON_CreateObject(), *mach = cJSON_AddObjectToObject(root, "machine"),
          *runs = cJSON_AddArrayToObject(root, "runs");
    struct machine_limits best = {0, 0, cpu_threads(), cpu_openblas_core()};
    cJSON_AddStringToObject(root, "model", dir);
    cJSON_AddStringToObject(root, "hyrecall_version", HYRECALL_VERSION);
    int rc = EXIT_OK;
    struct machine_limits limits; /* before the first run; then each run's "after" is the next one's "before" */
    bench_machine(&limits);
    struct bench_run r;
    for (int i = 0; i < nc && rc == EXIT_OK; i++) {
        if (bench_model(&m, contexts[i], (int)decode, &limits, &r, &e)) {
            fprintf(stderr, "hyrecall bench: %s\n", e.msg);
            rc = EXIT_RUNTIME;
            break;
        }
        printf("%8lld %14.1f %9.1f%% %8.0f %14.2f %9.1f%% %7.1f %8.2f GiB\n", (long long)r.context,
               r.prefill_tokens_per_s, 100 * r.prefill_fraction_of_peak, r.around.sgemm_gflops, r.decode_tokens_per_s,
               100 * r.decode_fraction_of_bandwidth, r.around.stream_gbs, r.peak_rss_bytes / 1073741824.0);
        /* Where the prefill's time went, and what one NIAH sample costs here. */
        printf("%8s   prefill by part:", "");
        for (int k = 0; k < PART_COUNT; k++) {
            if (r.part_seconds[k] <= 0) continue;
            printf(" %s %.3g s", bench_part_names[k], r.part_seconds[k]);
            if (r.part_flops[k] > 0)
                printf(" (%.0f%% of peak)", 100 * r.part_flops[k] / r.part_seconds[k] / (r.around.sgemm_gflops * 1e9));
            printf(k + 1 < PART_COUNT ? ";" : "");
        }
        printf("\n%8s   one NIAH sample (prefill + 32 decode steps): %.3g s\n", "", r.niah_sample_seconds);
        fflush(stdout);
        if (r.around.sgemm_gflops > best.sgemm_gflops) best.sgemm_gflops = r.around.sgemm_gflops;
        if (r.around.stream_gbs > best.stream_gbs) best.stream_gbs = r.around.stream_gbs;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "context", (double)r.context);
        cJSON_AddNumberToObject(o, "prefill_tokens_per_s", r.prefill_tokens_per_s);
        cJSON_AddNumberToObject(o, "prefill_fraction_of_peak", r.prefill_fraction_of_peak);
        cJSON_AddNumberToObject(o, "decode_tokens_per_s", r.decode_tokens_per_s);
        cJSON_AddNumberToObject(o, "decode_fraction_of_bandwidth", r.decode_fraction_of_bandwidth);
        cJSON_AddNumberToObject(o, "peak_rss_bytes", (double)r.peak_rss_bytes);
        cJSON_AddNumberToObject(o, "sgemm_gflops", r.around.sgemm_gflops);
        cJSON_AddNumberToObject(o, "stream_gbs", r.around.stream_gbs);
        cJSON *parts = cJSON_AddObjectToObject(o, "prefill_by_kind");
        for (int k = 0; k < PART_COUNT; k++) {
            cJSON *p = cJSON_AddObjectToObject(parts, bench_part_names[k]);
            cJSON_AddNumberToObject(p, "seconds", r.part_seconds[k]);
            if (k == PART_OTHER) continue; /* no FLOPs are counted for it */
            const double rate = r.part_seconds[k] > 0 ? r.part_flops[k] / r.part_seconds[k] : 0;
            cJSON_AddNumberToObject(p, "gflops", rate / 1e9);
            cJSON_AddNumberToObject(p, "fraction_of_peak", rate / (r.around.sgemm_gflops * 1e9));
        }
        cJSON_AddNumberToObject(o, "niah_sample_seconds", r.niah_sample_seconds);
        cJSON_AddItemToArray(runs, o);
    }
    cJSON *projections = np > 0 && rc == EXIT_OK ? cJSON_AddArrayToObject(root, "projections") : NULL;
    for (int i = 0; projections && i < np; i++) {
        struct bench_projection p;
        bench_project(&m, &r, projected[i], &p);
        printf("%8lld   projected from %lld: prefill %.3g s (", (long long)p.context, (long long)p.from_context,
               p.prefill_seconds);
        for (int k = 0, first = 1; k < PART_COUNT; k++)
            if (p.part_seconds[k] > 0)
                printf("%s%s %.3g s", first ? "" : "; ", bench_part_names[k], p.part_seconds[k]), first = 0;
        printf("), decode step %.3g s, one NIAH sample %.3g s\n", p.decode_step_seconds, p.niah_sample_seconds);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "context", (double)p.context);
        cJSON_AddNumberToObject(o, "from_context", (double)p.from_context);
        cJSON_AddNumberToObject(o, "prefill_seconds", p.prefill_seconds);
        cJSON *parts = cJSON_AddObjectToObject(o, "prefill_by_kind");
        for (int k = 0; k < PART_COUNT; k++) cJSON_AddNumberToObject(parts, bench_part_names[k], p.part_seconds[k]);
        cJSON_AddNumberToObject(o, "decode_step_seconds", p.decode_step_seconds);
        cJSON_AddNumberToObject(o, "niah_sample_seconds", p.niah_sample_seconds);
        cJSON_AddItemToArray(projections, o);
    }
    cJSON_AddNumberToObject(mach, "sgemm_gflops", best.sgemm_gflops);
    cJSON_AddNumberToObject(mach, "stream_gbs", best.stream_gbs);
    cJSON_AddNumberToObject(mach, "threads", best.threads);
    cJSON_AddStringToObject(mach, "openblas_core", best.openblas_core);
    cJSON_AddStringToObject(mach, "compute", compute_name(linear_compute()));
    if (linear_compute() == COMPUTE_BF16) cJSON_AddStringToObject(mach, "compute_isa", bf16_gemm_isa());
    if (rc == EXIT_OK && json_path) {
        char *text = cJSON_Print(root);
        struct hr_error e;
        if (write_text_file_atomic(json_path, text, false, &e)) {
            fprintf(stderr, "hyrecall bench: %s\n", e.msg);
            rc = EXIT_RUNTIME;
        }
        free(text);
    }
    cJSON_Delete(root);
    model_free(&m);
    return rc;
}
