// cmd_tokenize.c — placeholder until its owner lands it.
#include <stdio.h>
int cmd_tokenize(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "qwen3-ptx: 'tokenize' is not implemented yet\n"); return 1; }
