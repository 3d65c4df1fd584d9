// cu.c — loads the CUDA driver with dlopen and fills the function pointers declared in cu.h.
#define CU_LOADER_IMPL
#include "cu.h"
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#define CU_STR_(x) #x
#define CU_STR(x) CU_STR_(x)  // expands cuda.h's renames first: CU_STR(cuMemAlloc) == "cuMemAlloc_v2"
#define CU_DEFINE_PTR(fn) __typeof__(fn) *p_##fn;
CU_FUNCS(CU_DEFINE_PTR)

int cu_load(char *err, size_t errlen) {
    static int loaded = 0;  // 1 ok, -1 failed
    static char why[256];
    if (loaded == 0) {
        void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            snprintf(why, sizeof why, "no CUDA driver (libcuda.so.1 not found)");
            loaded = -1;
        } else {
            loaded = 1;
#define CU_LOAD_PTR(fn) if (loaded == 1) { \
        *(void **)&p_##fn = dlsym(h, CU_STR(fn)); \
        if (!p_##fn) { snprintf(why, sizeof why, "CUDA driver lacks %s (driver too old?)", CU_STR(fn)); loaded = -1; } }
            CU_FUNCS(CU_LOAD_PTR)
        }
    }
    if (loaded < 0) { snprintf(err, errlen, "%s", why); return -1; }
    return 0;
}

void cu_check_fail(CUresult r, const char *call, const char *file, int line) {
    const char *name = NULL, *desc = NULL;
    if (p_cuGetErrorName) p_cuGetErrorName(r, &name);
    if (p_cuGetErrorString) p_cuGetErrorString(r, &desc);
    fprintf(stderr, "qwen3-ptx: %s:%d: %s failed: %s (%d): %s\n", file, line, call, name ? name : "?", (int)r,
            desc ? desc : "");
    exit(1);
}
