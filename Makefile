# bibim — build with `make`, test with `make check` (see README.md).
#
#   make              library (static + shared), the bibim command
#   make test         unit and end-to-end tests on the normal build
#   make test-san     the same tests built with ASan+UBSan (build-san/)
#   make test-valgrind  the C tests and a few commands under valgrind memcheck
#   make fuzz-run     the libFuzzer targets for a bounded time (clang)
#   make check        test + test-san + test-valgrind + the core tests cross-built for
#                     aarch64 and armv7 under qemu (tests/cross/all.sh) + fuzz-run: what CI runs
#   make install      PREFIX=/usr/local DESTDIR=

CC       ?= cc
BUILD    ?= build
PREFIX   ?= /usr/local
OPT      ?= -O2 -g
WARN      = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla
# -ffp-contract=off: reference quantizers must round exactly like ggml's.
CFLAGS   += -std=c11 $(OPT) $(WARN) -ffp-contract=off -fPIC -D_GNU_SOURCE -Iinclude -Isrc
LDLIBS_CORE = -lm -lpthread
TOOL_LIBS = $(shell pkg-config --libs libcjson libedit libmicrohttpd 2>/dev/null || echo -lcjson -ledit -lmicrohttpd)
TOOL_CFLAGS = $(shell pkg-config --cflags libcjson libedit libmicrohttpd 2>/dev/null)
FUZZ_SECONDS ?= 30

ifeq ($(SAN),1)
BUILD    := build-san
OPT      := -O1 -g -fno-omit-frame-pointer
CFLAGS   += -fsanitize=address,undefined -fno-sanitize-recover=all
LDFLAGS  += -fsanitize=address,undefined
endif

# Kernels of each instruction-set level are built with that level's flags;
# the others only run after a runtime check (src/cpu.c) says the CPU has them.
MACHINE  := $(shell $(CC) -dumpmachine)
ifneq (,$(findstring x86_64,$(MACHINE)))
FLAGS_dot_avx2   = -mavx2 -mfma -mf16c
FLAGS_vec_ops_avx2 = -mavx2 -mfma -mf16c
FLAGS_packed_avx2 = -mavx2 -mfma -mf16c
FLAGS_packed_avx512 = -mavx2 -mfma -mf16c -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni
FLAGS_packed_f16_avx2 = -mavx2 -mfma -mf16c
FLAGS_packed_f16_avx512 = -mavx2 -mfma -mf16c -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni
FLAGS_dot_avx512 = -mavx2 -mfma -mf16c -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni -mavx512bf16
endif
ifneq (,$(findstring aarch64,$(MACHINE)))
FLAGS_dot_dotprod = -march=armv8.2-a+dotprod
FLAGS_packed_dotprod = -march=armv8.2-a+dotprod
FLAGS_packed_i8mm = -march=armv8.2-a+dotprod+i8mm
endif
ifneq (,$(filter arm-% armv7%,$(MACHINE)))
FLAGS_dot_neon32 = -mfpu=neon-vfpv4
endif

LIB_SRC  := $(wildcard src/*.c)
LIB_OBJ  := $(LIB_SRC:src/%.c=$(BUILD)/obj/%.o)
TOOL_SRC := $(wildcard tools/*.c)
TOOL_OBJ := $(TOOL_SRC:tools/%.c=$(BUILD)/tools/%.o)
TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)

SOVERSION = 0

.PHONY: all lib test test-san test-valgrind fuzz fuzz-run check install clean
all: $(BUILD)/bibim $(BUILD)/libbibim.so

lib: $(BUILD)/libbibim.a $(BUILD)/libbibim.so

$(BUILD)/obj/%.o: src/%.c $(wildcard src/*.h) include/bibim.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(FLAGS_$*) -c $< -o $@

$(BUILD)/libbibim.a: $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/libbibim.so: $(LIB_OBJ) src/libbibim.map
	$(CC) -shared -Wl,-soname,libbibim.so.$(SOVERSION) -Wl,--version-script=src/libbibim.map $(LDFLAGS) -o $@ $(LIB_OBJ) $(LDLIBS_CORE)

# Tools see only the public header: no -Isrc.
$(BUILD)/tools/%.o: tools/%.c $(wildcard tools/*.h) include/bibim.h
	@mkdir -p $(dir $@)
	$(CC) $(filter-out -Isrc,$(CFLAGS)) $(TOOL_CFLAGS) -c $< -o $@

$(BUILD)/bibim: $(TOOL_OBJ) $(BUILD)/libbibim.a
	$(CC) $(LDFLAGS) -o $@ $(TOOL_OBJ) $(BUILD)/libbibim.a $(TOOL_LIBS) $(LDLIBS_CORE)

# White-box tests may include src/ headers.
$(BUILD)/tests/%: tests/%.c $(wildcard tests/*.h) $(BUILD)/libbibim.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libbibim.a $(LDLIBS_CORE)

test: $(BUILD)/bibim $(TEST_BIN)
	tests/run_tests.sh $(BUILD)

test-san:
	$(MAKE) SAN=1 test

test-valgrind: $(BUILD)/bibim $(TEST_BIN)
	VALGRIND=1 BIBIM_CPU_MAX=avx2 tests/run_tests.sh $(BUILD)

FUZZ_TARGETS = gguf jinja tokenize serve
fuzz: $(FUZZ_TARGETS:%=build-fuzz/fuzz_%)

FUZZ_CFLAGS = -std=c11 -g -O1 -D_GNU_SOURCE -Iinclude -Isrc -fsanitize=fuzzer-no-link,address,undefined \
              -fno-sanitize-recover=all
FUZZ_OBJ := $(LIB_SRC:src/%.c=build-fuzz/obj/%.o)

build-fuzz/obj/%.o: src/%.c $(wildcard src/*.h) include/bibim.h
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) $(FLAGS_$*) -c $< -o $@

build-fuzz/fuzz_%: fuzz/fuzz_%.c $(FUZZ_OBJ)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_OBJ) -lm -lpthread

# The server's request handling, without its socket layer (tools/serve_api.c).
FUZZ_SERVE_SRC = tools/serve_api.c tools/serve_sched.c tools/prompt.c
build-fuzz/fuzz_serve: fuzz/fuzz_serve.c $(FUZZ_SERVE_SRC) $(wildcard tools/*.h) $(FUZZ_OBJ)
	clang $(FUZZ_CFLAGS) -Itools $(TOOL_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_SERVE_SRC) $(FUZZ_OBJ) \
	    $(TOOL_LIBS) -lm -lpthread

# Each target gets FUZZ_SECONDS; those that read ../shared skip without it.
fuzz-run: fuzz
	fuzz/run.sh build-fuzz/fuzz_gguf $(FUZZ_SECONDS) fuzz/corpus/gguf
	fuzz/run.sh build-fuzz/fuzz_jinja $(FUZZ_SECONDS) fuzz/corpus/jinja
	fuzz/run.sh build-fuzz/fuzz_tokenize $(FUZZ_SECONDS) fuzz/corpus/tokenize \
	    ../shared/refs/vocab/ggml-vocab-llama-spm.gguf ../shared/refs/vocab/ggml-vocab-gpt-2.gguf
	fuzz/run.sh build-fuzz/fuzz_serve $(FUZZ_SECONDS) fuzz/corpus/serve ../shared/models/stories260K.gguf

# One after the other (each builds with -j), then the totals of all three runs.
check:
	rm -f build/test-totals build-san/test-totals
	$(MAKE) test
	$(MAKE) test-san
	$(MAKE) test-valgrind
	CROSS_TOTALS=build/test-totals tests/cross/all.sh
	$(MAKE) fuzz-run
	@cat build/test-totals build-san/test-totals | awk '{p += $$1; f += $$2; s += $$3} END {print "total: " p " passed, " f " failed, " s " skipped"}'

install: $(BUILD)/bibim lib
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 755 $(BUILD)/bibim $(DESTDIR)$(PREFIX)/bin/
	install -m 644 include/bibim.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 $(BUILD)/libbibim.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/libbibim.so $(DESTDIR)$(PREFIX)/lib/libbibim.so.$(SOVERSION)
	ln -sf libbibim.so.$(SOVERSION) $(DESTDIR)$(PREFIX)/lib/libbibim.so
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|0.1.0|' bibim.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/bibim.pc

clean:
	rm -rf build build-san build-fuzz build-aarch64 build-armv7
