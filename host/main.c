// main.c — the qwen3-ptx command line: one binary, one subcommand per job, each in host/cmd_<name>.c.
#include <stdio.h>
#include <string.h>

int cmd_synth(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_detokenize(int argc, char **argv);
int cmd_logits(int argc, char **argv);
int cmd_batch(int argc, char **argv);

static const struct { const char *name; int (*fn)(int, char **); const char *help; } commands[] = {
    { "run",        cmd_run,        "generate text from a prompt (GPU when present, else the CPU reference)" },
    { "chat",       cmd_chat,       "interactive multi-turn chat" },
    { "batch",      cmd_batch,      "run an OpenAI Batch API JSONL file of requests (continuous batching, resumable)" },
    { "synth",      cmd_synth,      "write a Qwen3 GGUF with random weights of the real shapes and the real tokenizer" },
    { "info",       cmd_info,       "print a GGUF's metadata and tensor table" },
    { "tokenize",   cmd_tokenize,   "text on stdin -> token ids" },
    { "detokenize", cmd_detokenize, "token ids on stdin -> text" },
    { "logits",     cmd_logits,     "dump T x vocab float32 logits of a prefill (cross-checks against other backends)" },
};
#define N_COMMANDS (int)(sizeof commands / sizeof commands[0])

static void usage(FILE *out) {
    fprintf(out, "qwen3-ptx — Qwen3 inference on Hopper, every kernel in PTX\n\nusage: qwen3-ptx COMMAND [options]"
                 "   (qwen3-ptx COMMAND --help for its options)\n\ncommands:\n");
    for (int i = 0; i < N_COMMANDS; i++) fprintf(out, "  %-11s %s\n", commands[i].name, commands[i].help);
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 1 : 0;
    }
    for (int i = 0; i < N_COMMANDS; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "qwen3-ptx: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 1;
}
