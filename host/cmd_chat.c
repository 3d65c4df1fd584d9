// cmd_chat.c — placeholder until its owner lands it.
#include <stdio.h>
int cmd_chat(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "qwen3-ptx: 'chat' is not implemented yet\n"); return 1; }
