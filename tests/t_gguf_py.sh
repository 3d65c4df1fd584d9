#!/usr/bin/env bash
# t_gguf_py.sh — our GGUF layer against llama.cpp's own code (from build/llama.cpp, cloned by tests/setup.sh):
#  1. tests/gguf_xcheck.c writes a GGUF with our writer (every metadata type, random blocks of every tensor type
#     with our dequantization beside them, our Q8_0/BF16/F16 encodings); tests/gguf_py_check.py reads it with
#     gguf-py (Debian's /usr/bin/python3 + python3-numpy) and compares values, dequantization and encoders.
#  2. The same helper built against ggml/src/ggml-quants.c compares our quantizers (bytes and error) and
#     dequantizers (bit for bit) with ggml's reference C code.
# SKIPs only when gguf-py/numpy (or, for part 2, a compilable ggml-quants.c) are missing.
# Reproduce: QWEN3_TEST_SEED=N bash tests/t_gguf_py.sh
cd "$(dirname "$0")/.."
LL=build/llama.cpp
PY=/usr/bin/python3
W=build/xcheck             # ggml-quants.o is cached here
R=$W/run.$$                # this run's files: several `make test` runs may share the tree
mkdir -p $R
trap 'rm -rf "$R"' EXIT
seed=${QWEN3_TEST_SEED:-$(date +%s)}
echo "seed $seed (QWEN3_TEST_SEED reproduces)"
if [ ! -f $LL/gguf-py/gguf/gguf_reader.py ] || ! $PY -c "import numpy" 2>/dev/null; then
    echo "SKIP gguf_py (gguf-py in $LL or numpy for $PY missing: run sh tests/setup.sh)"
else
    if ! cc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -o $R/gguf_xcheck tests/gguf_xcheck.c gguf/gguf.c gguf/quants.c -lm; then
        echo "FAIL gguf_xcheck_build"; exit 1
    fi
    rc=0
    $R/gguf_xcheck gen $R "$seed" || { echo "FAIL gguf_xcheck_gen"; rc=1; }
    [ $rc -eq 0 ] && { $PY tests/gguf_py_check.py $LL/gguf-py $R || rc=1; }
fi
G=$LL/ggml
if [ ! -f $G/src/ggml-quants.c ]; then
    echo "SKIP ggml_reference (no $G/src/ggml-quants.c: run sh tests/setup.sh)"
elif ! { [ $W/ggml-quants.o -nt $G/src/ggml-quants.c ] ||
         { cc -O2 -w -I$G/include -I$G/src -c $G/src/ggml-quants.c -o $R/ggml-quants.o 2>$R/ggml-build.log &&
           mv -f $R/ggml-quants.o $W/ggml-quants.o; }; } ||
     ! cc -std=c11 -D_GNU_SOURCE -O2 -DWITH_GGML -o $R/gguf_xcheck_ggml tests/gguf_xcheck.c gguf/gguf.c gguf/quants.c \
          $W/ggml-quants.o -lm 2>>$R/ggml-build.log; then
    echo "SKIP ggml_reference (ggml-quants.c did not build here: $(head -c 200 $R/ggml-build.log))"
else
    $R/gguf_xcheck_ggml ggml "$seed" || rc=1
fi
exit ${rc:-0}
