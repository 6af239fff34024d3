/* hyrecall restore: write a restored checkpoint. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cli/cli.h"

static const char *HELP =
    "usage: hyrecall restore --base BASE_DIR --tuned TUNED_DIR --method qk|procrustes --out OUT_DIR\n"
    "                        [--layers full|attention|linear|all|0,3,7] [--parts q,k,v,o]\n"
    "                        [--procrustes-side output|input] [--alpha A] [--with biases,norms]\n\n"
    "Writes OUT_DIR, a complete model directory: TUNED_DIR's config and tokenizer files, and one\n"
    "model.safetensors holding every tensor of TUNED_DIR with the query/key projections of the chosen\n"
    "layers restored from BASE_DIR (metadata and hyrecall_restore.json record base, tuned, method and\n"
    "layers). The same patch as --restore-from on run. Written to a temporary directory and renamed;\n"
    "OUT_DIR must not exist; BASE_DIR and TUNED_DIR are only read.\n\n"
    "  --method qk          the --parts of the restored layers taken from BASE (default q,k: QK-Restore)\n"
    "  --method procrustes  output side (default): per KV group g one orthogonal R_g on the head dimension,\n"
    "                       W_K,g = R_g W_K,g^base and W_Q,h = R_g W_Q,h^base for its query heads, so every\n"
    "                       head's W_Q,h^T W_K,g is the base's, R_g as close to the tuned weights as that\n"
    "                       allows (restricted to RoPE's rotations on RoPE layers: the base's attention\n"
    "                       logits are kept); needs parts q,k\n"
    "  --procrustes-side input   the earlier reading: W = (1-A) B + A B R*, R* the rotation minimising\n"
    "                       |B R - F| over the stacked [W_Q; W_K] of base (B) and tuned (F) per layer\n"
    "  --parts LIST         q, k, v, o (W_O), comma-separated; default q,k. v alone is V-Restore.\n"
    "                       (--restore-parts is accepted too)\n"
    "  --layers             default full: the full softmax-attention layers\n"
    "  --alpha A            input-side Procrustes blend in [0, 1] (default 1; 0 is qk)\n"
    "  --with               also restore the chosen parts' biases and/or the q/k norm weights (on the\n"
    "                       output side the base's q/k biases are rotated with their weights)\n\n"
    "These restore rules are hyrecall's definitions, after the paper's abstract and a review of its\n"
    "text (see README.md, the method table).\n"
    "exit codes: 0 ok, 1 mismatched or unreadable checkpoints, unwritable OUT_DIR, 2 usage error\n";

int cmd_restore(int argc, char **argv)
{
    struct restore_options o;
    restore_options_default(&o);
    const char *tuned = NULL, *out = NULL;
    bool have_method = false;
    struct hr_error e;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(HELP, stdout);
            return EXIT_OK;
        }
        /* --method, --layers, --parts, --with, --alpha, --procrustes-side, and
         * their --restore-* spellings (cli_restore.c) */
        bool matched;
        if (cli_restore_flag("restore", argc, argv, &i, &o, &matched)) return EXIT_USAGE;
        if (matched) {
            have_method |= strcmp(a, "--method") == 0 || strcmp(a, "--restore") == 0;
            continue;
        }
        if (!(v = cli_value("restore", argc, argv, &i))) return EXIT_USAGE;
        if (strcmp(a, "--base") == 0 || strcmp(a, "--restore-from") == 0)
            o.base_dir = v;
        else if (strcmp(a, "--tuned") == 0)
            tuned = v;
        else if (strcmp(a, "--out") == 0)
            out = v;
        else
            return cli_unknown_option("restore", a, HELP), EXIT_USAGE;
    }
    if (!o.base_dir || !tuned || !out || !have_method) {
        cli_usage_error("restore", "--base, --tuned, --method and --out are required");
        return EXIT_USAGE;
    }
    if (restore_write_checkpoint(tuned, &o, out, &e) != 0) {
        fprintf(stderr, "hyrecall restore: %s\n", e.msg);
        return EXIT_RUNTIME;
    }
    printf("wrote %s\n", out);
    return EXIT_OK;
}
