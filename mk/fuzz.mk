# libFuzzer targets: every tests/fuzz/fuzz_*.c is one program, built by clang with
# -fsanitize=fuzzer,address,undefined into build/fuzz/fuzz/, linked with the project
# libraries rebuilt by clang with -fsanitize=fuzzer-no-link,address,undefined (in build/fuzz,
# by a sub-make with FUZZ=1).  Seeds: tests/fuzz/corpus/<target>/ if present; the growing
# corpus lives in build/fuzz/corpus/<target>/.
#   make fuzz-build    build every target
#   make fuzz-short    each target for FUZZ_SHORT_SECONDS (10 s)
#   make fuzz          each target for FUZZ_SECONDS (300 s)
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_NAMES := $(patsubst tests/fuzz/%.c,%,$(FUZZ_SRCS))
FUZZ_B := build/fuzz
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 300
FUZZ_SHORT_SECONDS ?= 10
FUZZ_CFLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined -Wno-format-nonliteral
FUZZ_LDFLAGS := -fsanitize=fuzzer,address,undefined

.PHONY: fuzz-build fuzz-short fuzz fuzz-bins

ifeq ($(FUZZ),1)
.PRECIOUS: $(B)/obj/tests/fuzz/%.o
$(B)/fuzz/%: $(B)/obj/tests/fuzz/%.o $(LIBXAPID) $(LIBCOMMON) $(LIBPROTO)
	$(call link_recipe,$(AS_NEEDED) $(LIBS_XAPID) $(LIBS_COMMON))
fuzz-bins: $(patsubst %,$(B)/fuzz/%,$(FUZZ_NAMES))
endif

fuzz-build:
	@$(MAKE) --no-print-directory FUZZ=1 B=$(FUZZ_B) CC=$(FUZZ_CC) CFLAGS="$(FUZZ_CFLAGS)" \
		LDFLAGS="$(FUZZ_LDFLAGS)" fuzz-bins

# $(call fuzz_run,SECONDS): runs every target in turn, stopping at the first crash.
define fuzz_run
	@set -e; for n in $(FUZZ_NAMES); do \
		mkdir -p $(FUZZ_B)/corpus/$$n $(FUZZ_B)/artifacts; \
		echo "  FUZZ    $$n ($(1) s)"; \
		$(FUZZ_B)/fuzz/$$n -max_total_time=$(1) -print_final_stats=0 \
			-artifact_prefix=$(FUZZ_B)/artifacts/$$n- $(FUZZ_B)/corpus/$$n \
			$$(test -d tests/fuzz/corpus/$$n && echo tests/fuzz/corpus/$$n) \
			2>$(FUZZ_B)/$$n.log || { tail -40 $(FUZZ_B)/$$n.log; exit 1; }; \
	done
endef

fuzz-short: fuzz-build
	$(call fuzz_run,$(FUZZ_SHORT_SECONDS))

fuzz: fuzz-build
	$(call fuzz_run,$(FUZZ_SECONDS))
