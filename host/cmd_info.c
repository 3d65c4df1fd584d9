// cmd_info.c — placeholder until its owner lands it.
#include <stdio.h>
int cmd_info(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "qwen3-ptx: 'info' is not implemented yet\n"); return 1; }
