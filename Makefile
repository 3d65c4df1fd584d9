# qwen3-ptx — plain Makefile. `make` builds the binary and the tests; `make test` runs every test.
# Kernels: ptx/NAME.ptx -> (C preprocessor) -> ptxas -arch=sm_90a -> build/ptx/NAME.cubin -> embedded in the binary.
CC      ?= gcc
CUDA    ?= /usr/local/cuda
PTXAS   ?= $(CUDA)/bin/ptxas
B       := build
BIN     := qwen3-ptx
# make TRACE=1 builds into build/trace (its binary too) with kernels that record a timeline (ptx/pdl.h; host/gpu.c,
# QWEN3_TRACE=FILE; the wgmma GEMMs' work units too: FILE.units, bench/unit_trace.py), e.g. make TRACE=1
# build/trace/bench/throughput
ifeq ($(TRACE),1)
B       := build/trace
BIN     := $(B)/qwen3-ptx
PTXDEFS := -DQWEN3_TRACE
endif
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -pthread -I$(CUDA)/include -MMD -MP
LDLIBS  := -lm -ldl -pthread
# A spill or a C75xx performance warning is a build error (in the timeline build only a warning: its timer code
# takes registers in each entry's prologue, and gemm_kq's 128-register entries spill a few bytes there).
PTXFLAGS := -arch=sm_90a -v --warn-on-spills -Werror
ifeq ($(TRACE),1)
PTXFLAGS := -arch=sm_90a -v --warn-on-spills
endif

LIB_SRC := $(wildcard gguf/*.c) $(filter-out host/main.c host/cmd_%.c,$(wildcard host/*.c))
CMD_SRC := host/main.c $(wildcard host/cmd_*.c)
GEN_SRC := $(B)/cubins.c $(B)/unicode_tables.c $(B)/plans.c
# GEMM tile plans measured on a card by bench/gemm --sweep, built in (the engine uses the one naming its card)
PLANS   := bench/results/gemm-plan-h100-8b.txt bench/results/gemm-plan-h200-8b.txt
LIB_OBJ := $(LIB_SRC:%.c=$(B)/%.o) $(GEN_SRC:%.c=%.o)
CMD_OBJ := $(CMD_SRC:%.c=$(B)/%.o)
PTX     := $(wildcard ptx/*.ptx)
CUBINS  := $(PTX:ptx/%.ptx=$(B)/ptx/%.cubin)
TEST_SRC := $(wildcard tests/test_*.c)
TESTS   := $(TEST_SRC:tests/%.c=$(B)/tests/%)
BENCH_SRC := $(wildcard bench/*.c)
BENCHES := $(BENCH_SRC:bench/%.c=$(B)/bench/%)
ifeq ($(wildcard $(CUDA)/lib64/libcublas.so),)
BENCHES := $(filter-out $(B)/bench/gemm,$(BENCHES))  # bench/gemm needs cuBLAS from the toolkit
endif

.PHONY: generate all test clean bench run fuzz
all: $(BIN) $(TESTS)

$(BIN): $(CMD_OBJ) $(LIB_OBJ)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(B)/tests/%: tests/%.c $(LIB_OBJ) tests/test.h tests/gpu_test.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -o $@ $< $(LIB_OBJ) $(LDLIBS)

bench: $(BENCHES)
$(B)/bench/%: bench/%.c $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIB_OBJ) $(LDLIBS)
# bench/gemm alone links cuBLAS (our GEMM against it; the CUDA runtime comes inside libcublas); the engine never does.
$(B)/bench/gemm: bench/gemm.c $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIB_OBJ) -L$(CUDA)/lib64 -Wl,-rpath,$(CUDA)/lib64 -lcublas -lcublasLt $(LDLIBS)

# The preprocessed PTX is kept (make would delete it as an intermediate, after the test summary line).
.SECONDARY: $(PTX:ptx/%.ptx=$(B)/ptx/%.ptx)

# --- kernels: preprocess (register lists may be macro-expanded), assemble, embed ---
$(B)/ptx/%.ptx: ptx/%.ptx $(wildcard ptx/*.h)
	@mkdir -p $(dir $@)
	cpp -P -undef -nostdinc -Iptx $(PTXDEFS) -x c $< > $@
$(B)/ptx/%.cubin: $(B)/ptx/%.ptx
	$(PTXAS) $(PTXFLAGS) -o $@ $< 2> $(B)/ptx/$*.ptxas.log || { cat $(B)/ptx/$*.ptxas.log; exit 1; }
	@grep -E "Used|spill" $(B)/ptx/$*.ptxas.log | sed 's/^/  $*: /' | head -4
	@# ptxas serialising wgmmas (C7515: an accumulator written outside the wgmma chain) is a silent slowdown: fail
	@! grep -E "C7515" $(B)/ptx/$*.ptxas.log || { rm -f $@; echo "$*: wgmma serialised (C7515), see above"; exit 1; }
# Unicode class/NFC tables for the tokenizer, from Debian's unicode-data (tests/setup.sh installs it).
$(B)/unicode_tables.c: host/gen_unicode.sh
	@mkdir -p $(B)
	sh host/gen_unicode.sh > $@.tmp && mv $@.tmp $@
$(B)/cubins.c: $(CUBINS) host/embed.sh
	@mkdir -p $(B)
	sh host/embed.sh $(CUBINS) > $@
$(B)/plans.c: $(PLANS) host/embed_plans.sh
	@mkdir -p $(B)
	sh host/embed_plans.sh $(PLANS) > $@

# --- tests: `make test` sets up its own dependencies (tests/setup.sh), builds (bench/throughput too: t_throughput.sh),
# runs, prints N passed, N failed ---
test: all $(B)/bench/throughput
	@sh tests/setup.sh
	@bash tests/run.sh

# --- fuzzing the GGUF reader (clang's libFuzzer): `make fuzz`, then tests/t_fuzz_gguf.sh (FUZZ_SECONDS=3600 for a long run)
fuzz: $(B)/fuzz_gguf
$(B)/fuzz_gguf: tests/fuzz_gguf.c gguf/gguf.c gguf/quants.c gguf/gguf.h gguf/quants.h
	@mkdir -p $(B)
	clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -Wall -Wextra -Werror \
		-o $@ tests/fuzz_gguf.c gguf/gguf.c gguf/quants.c

# --- the main job: a batch of chat requests (OpenAI Batch JSONL) through the batch engine, on a synthetic Qwen3-0.6B
# unless MODEL= points at a real GGUF; the progress bar and summary go to stderr, the results to $(RESULTS).
# `make generate` runs one prompt instead.
SETUP    ?= sh tests/setup.sh   # SETUP=true skips it (a machine without network that has what it needs)
MODEL    ?= models/qwen3-0.6b-q8_0.gguf
REQUESTS ?= $(shell nvidia-smi -L >/dev/null 2>&1 && echo 256 || echo 8)  # the CPU reference is slow: 8 there
RESULTS  ?= models/results.jsonl
PROMPT   ?= Explain in one paragraph why the sky is blue.
TOPICS   := the sky,the sea,volcanoes,bread,prime numbers,the moon,bees,glaciers,trains,tea,chess,rivers,clouds,rust,owls,jazz
run: qwen3-ptx
	@$(SETUP)
	@[ -f "$(MODEL)" ] || { mkdir -p models && ./qwen3-ptx synth --size 0.6b --type q8_0 --seed 1 -o "$(MODEL)"; }
	@mkdir -p models && i=0; while [ $$i -lt $(REQUESTS) ]; do \
	    t=$$(echo "$(TOPICS)" | cut -d, -f$$(( i % 16 + 1 ))); \
	    printf '{"custom_id": "req-%d", "method": "POST", "url": "/v1/chat/completions", "body": {"messages": [{"role": "user", "content": "Tell me about %s, request %d."}], "max_tokens": 128, "temperature": 0.7, "seed": %d}}\n' $$i "$$t" $$i $$i; \
	    i=$$((i + 1)); done > models/requests.jsonl
	@rm -f "$(RESULTS)"
	./qwen3-ptx batch -m "$(MODEL)" -i models/requests.jsonl -o "$(RESULTS)"
	@echo "first result:"; head -n 1 "$(RESULTS)"

generate: qwen3-ptx
	@$(SETUP)
	@[ -f "$(MODEL)" ] || { mkdir -p models && ./qwen3-ptx synth --size 0.6b --type q8_0 --seed 1 -o "$(MODEL)"; }
	./qwen3-ptx run -m "$(MODEL)" -p "$(PROMPT)" -n 64

clean:
	rm -rf $(B) qwen3-ptx

-include $(shell find $(B) -name '*.d' 2>/dev/null)
