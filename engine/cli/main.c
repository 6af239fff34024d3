/* hyrecall: a CPU reference engine for hybrid linear-attention models. */
#include <stdio.h>
#include <string.h>

#include "engine/cli/cli.h"
#include "engine/hyrecall.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"inspect", cmd_inspect, "describe a model directory: architecture, layer plan, tensors, memory"},
    {"run", cmd_run, "generate greedily from text or token ids; --dump writes reference logits (and layers)"},
    {"diff", cmd_diff, "two reference dumps tensor by tensor, in forward order: the first divergence"},
    {"tokenize", cmd_tokenize, "text to token ids and back with a tokenizer.json"},
    {"niah", cmd_niah, "RULER needle-in-a-haystack: generate, run, score, heat maps"},
    {"eval", cmd_eval, "held-out chain-of-thought accuracy (the reasoning side of an A/B)"},
    {"lens", cmd_lens, "routing lens: where each layer reads from, for one query position"},
    {"bench", cmd_bench, "prefill/decode throughput against this machine's measured limits"},
    {"synth", cmd_synth, "write a random-weight checkpoint at a config's real shapes"},
    {"restore", cmd_restore, "write a checkpoint with W_Q/W_K restored from a base checkpoint"},
};

static void usage(FILE *out)
{
    fprintf(out,
            "hyrecall %s — CPU reference engine for hybrid linear-attention language models\n\n"
            "usage: hyrecall COMMAND [options]   (hyrecall COMMAND --help for its options)\n\ncommands:\n",
            build_version());
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nexit codes: 0 success, 1 runtime failure (bad model files, I/O), 2 usage error\n"
                 "environment: OPENBLAS_CORETYPE overrides the OpenBLAS kernel choice\n");
}

int main(int argc, char **argv)
{
    cpu_select_openblas_core(argv);
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("hyrecall %s (commit %s, OpenBLAS core %s)\n", build_version(), build_commit(), cpu_openblas_core());
        return EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0) return commands[i].run(argc - 1, argv + 1);
    const char *names[sizeof commands / sizeof commands[0] + 1];
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) names[i] = commands[i].name;
    names[sizeof commands / sizeof commands[0]] = "version";
    const char *guess = cli_did_you_mean(argv[1], names, (int)(sizeof names / sizeof names[0]));
    if (guess)
        fprintf(stderr, "hyrecall: unknown command '%s' (did you mean '%s'?)\n\n", argv[1], guess);
    else
        fprintf(stderr, "hyrecall: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return EXIT_USAGE;
}
