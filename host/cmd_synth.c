// cmd_synth.c — placeholder until its owner lands it.
#include <stdio.h>
int cmd_synth(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "qwen3-ptx: 'synth' is not implemented yet\n"); return 1; }
