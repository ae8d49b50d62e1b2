# tests/unit/test_*.c: one cmocka program each, linked against every library so a test
# can exercise any module's internals; the linker only pulls what a test uses.
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_TESTS := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRCS))
ALL_OBJS += $(call objs,$(UNIT_SRCS))
ALL_TESTS += $(UNIT_TESTS)
TEST_LIBS_A = $(LIBXAPID) $(LIBSTORD) $(LIBNETD) $(LIBDOMD) $(LIBCOMMON) $(LIBPROTO)

$(B)/tests/%: $(B)/obj/tests/unit/%.o $(TEST_LIBS_A)
	$(call link_recipe,$(AS_NEEDED) $(LIBS_XAPID) $(LIBS_NETD) $(LIBS_XEN) $(LIBS_COMMON) $(LIBS_TEST))

# tests/helpers/: programs that test scripts drive (not tests themselves), linked like the
# unit tests.
HELPER_SRCS := $(wildcard tests/helpers/*.c)
HELPER_BINS := $(patsubst tests/helpers/%.c,$(B)/tests/helpers/%,$(HELPER_SRCS))
ALL_OBJS += $(call objs,$(HELPER_SRCS))
ALL_TESTS += $(HELPER_BINS)

$(B)/tests/helpers/%: $(B)/obj/tests/helpers/%.o $(TEST_LIBS_A)
	$(call link_recipe,$(AS_NEEDED) $(LIBS_XAPID) $(LIBS_NETD) $(LIBS_XEN) $(LIBS_COMMON) $(LIBS_TEST))
