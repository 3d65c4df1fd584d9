// cmd_detokenize.c — placeholder until its owner lands it.
#include <stdio.h>
int cmd_detokenize(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "qwen3-ptx: 'detokenize' is not implemented yet\n"); return 1; }
