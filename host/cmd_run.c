// cmd_run.c — placeholder until its owner lands it.
#include <stdio.h>
int cmd_run(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "qwen3-ptx: 'run' is not implemented yet\n"); return 1; }
