#!/bin/sh
# setup.sh — everything the tests need beyond the toolchain, installed on a fresh machine; quick when present.
#  - Debian: python3-numpy (gguf-py), unicode-data (tokenizer tables), libonig5 (regex reference),
#    python3-jinja2 (chat template reference), clang (libFuzzer), nodejs/npm
#  - npm (into tests/node_modules): the Qwen3 tokenizer + chat template, llama.cpp's source, a Jinja engine
#  - llama.cpp's source cloned from node-llama-cpp's git bundle into build/llama.cpp (gguf-py, vocab test vectors)
set -e
cd "$(dirname "$0")/.."
need=""
[ -f /usr/lib/python3/dist-packages/numpy/__init__.py ] || need="$need python3-numpy"
[ -f /usr/share/unicode/UnicodeData.txt ] || need="$need unicode-data"
/sbin/ldconfig -p 2>/dev/null | grep -q 'libonig\.so\.5 ' || need="$need libonig5"  # Oniguruma: pre-tokenizer reference
[ -f /usr/lib/python3/dist-packages/jinja2/__init__.py ] || need="$need python3-jinja2"  # chat template reference
command -v clang >/dev/null || need="$need clang"
command -v npm >/dev/null || need="$need nodejs npm"
if [ -n "$need" ]; then
    if [ "$(id -u)" = 0 ]; then
        echo "setup: apt-get install$need"
        apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null
    else
        echo "setup: missing Debian packages:$need (run as root or install them)"; exit 1
    fi
fi
if [ ! -f tests/node_modules/.setup-done ]; then
    echo "setup: npm install (tests/package.json)"
    (cd tests && npm install --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null) && touch tests/node_modules/.setup-done
fi
if [ ! -d build/llama.cpp/gguf-py ]; then
    echo "setup: cloning llama.cpp source from node-llama-cpp's bundle"
    mkdir -p build && git clone -q tests/node_modules/node-llama-cpp/llama/gitRelease.bundle build/llama.cpp 2>/dev/null
fi
