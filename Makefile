# VAE harness. `make` builds the Lua module ./vae.so (so `require "vae"` works from
# the repository root) and the C test binary; `make test` runs every test, plain
# and under AddressSanitizer + UBSan; `make help` lists the targets.
CC      ?= cc
CFLAGS  ?= -O3 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -fPIC -fno-math-errno
LDLIBS  += -lm
LUA_CFLAGS := $(shell pkg-config --cflags lua5.4 2>/dev/null)
LUA     ?= lua5.4

HARNESS := harness/error.c harness/rng.c harness/mat.c harness/activation.c \
           harness/backend.c harness/layer.c harness/likelihood.c harness/posterior.c \
           harness/model.c harness/data.c
BACKENDS := backends/naive.c
TESTS   := tests/test_main.c tests/test_layers.c tests/test_model.c

SRC := $(HARNESS) $(BACKENDS)
OBJ := $(SRC:%.c=build/%.o)
ASAN_OBJ := $(SRC:%.c=build/asan/%.o)
SANITIZE := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

.PHONY: all test check test-plain test-sanitize clean help
all: vae.so build/test_harness

help:
	@echo "make            build ./vae.so (Lua module) and build/test_harness"
	@echo "make test       run all tests, plain and under ASan/UBSan; ends with 'N passed, N failed'"
	@echo "make check      the plain tests only (faster)"
	@echo "make clean      remove build outputs"

build/%.o: %.c $(wildcard harness/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEFS) -c $< -o $@

build/asan/%.o: %.c $(wildcard harness/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SANITIZE) $(DEFS) -c $< -o $@

build/lua_vae.o: harness/lua_vae.c $(wildcard harness/*.h)
	@mkdir -p build
	$(CC) $(CFLAGS) $(LUA_CFLAGS) $(DEFS) -c $< -o $@

build/asan/lua_vae.o: harness/lua_vae.c $(wildcard harness/*.h)
	@mkdir -p build/asan
	$(CC) $(CFLAGS) $(SANITIZE) $(LUA_CFLAGS) $(DEFS) -c $< -o $@

vae.so: build/lua_vae.o $(OBJ)
	$(CC) -shared -o $@ $^ $(LDFLAGS) $(LDLIBS)

build/asan/vae.so: build/asan/lua_vae.o $(ASAN_OBJ)
	$(CC) $(SANITIZE) -shared -o $@ $^ $(LDFLAGS) $(LDLIBS)

build/test_harness: $(TESTS) tests/check.h $(OBJ)
	$(CC) $(CFLAGS) $(DEFS) -o $@ $(TESTS) $(OBJ) $(LDFLAGS) $(LDLIBS)

build/asan/test_harness: $(TESTS) tests/check.h $(ASAN_OBJ)
	$(CC) $(CFLAGS) $(SANITIZE) $(DEFS) -o $@ $(TESTS) $(ASAN_OBJ) $(LDFLAGS) $(LDLIBS)

# The runner prints one line per suite and the total as its last line.
test: all build/asan/test_harness build/asan/vae.so
	@LUA=$(LUA) tests/run.sh plain sanitize

check: all
	@LUA=$(LUA) tests/run.sh plain

clean:
	rm -rf build vae.so
