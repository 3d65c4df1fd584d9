#!/usr/bin/env bash
# build_llama.sh — builds our peer, llama.cpp (the source that npm node-llama-cpp@3.21.1 ships as
# llama/gitRelease.bundle), with CUDA for sm_90a: llama-bench and llama-batched-bench only.
#   bash bench/build_llama.sh SRC DEST
# SRC: a clone of the bundle (tests/setup.sh makes build/llama.cpp) or a tarball of it (.carry/llama-src.tar.xz,
# made with `git -C build/llama.cpp archive HEAD ':!models' ':!docs' ':!media' | xz > .carry/llama-src.tar.xz`
# so that it can travel to a machine with no network). About 5 minutes on 16 cores.
# DEST receives bin/ and lib/ (shared libraries next to the binaries, RPATH $ORIGIN/../lib).
set -euo pipefail
src=$1; dest=$2
if [ -f "$src" ]; then mkdir -p /tmp/llama-src && tar -C /tmp/llama-src -xJf "$src"; src=/tmp/llama-src; fi
b=/tmp/llama-build-$$
cmake -S "$src" -B "$b" -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a -DGGML_NATIVE=ON -DLLAMA_CURL=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_RPATH='$ORIGIN/../lib' > /tmp/llama-cmake.log 2>&1 \
    || { tail -20 /tmp/llama-cmake.log; exit 1; }
cmake --build "$b" -j"$(nproc)" --target llama-bench llama-batched-bench > /tmp/llama-make.log 2>&1 \
    || { tail -30 /tmp/llama-make.log; exit 1; }
mkdir -p "$dest/bin" "$dest/lib"
cp "$b"/bin/llama-bench "$b"/bin/llama-batched-bench "$dest/bin/"
find "$b" -name '*.so*' -exec cp -P {} "$dest/lib/" \;
echo "llama.cpp built into $dest ($(du -sh "$dest" | cut -f1))"
