# tests/unit/test_*.c: one cmocka program each, linked against every library so a test
# can exercise any module's internals; the linker only pulls what a test uses.
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_TESTS := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRCS))
ALL_OBJS += $(call objs,$(UNIT_SRCS))
ALL_TESTS += $(UNIT_TESTS)
TEST_LIBS_A = $(LIBXAPID) $(LIBSTORD) $(LIBNETD) $(LIBDOMD) $(LIBCOMMON) $(LIBPROTO)

$(B)/tests/%: $(B)/obj/tests/unit/%.o $(TEST_LIBS_A)
	$(call link_recipe,$(AS_NEEDED) $(LIBS_XAPID) $(LIBS_NETD) $(LIBS_XEN) $(LIBS_COMMON) $(LIBS_TEST))

# tests/helpers/http_echo: a test-only server on the xapid HTTP layer, driven by curl in
# tests/integration/test_http_curl.
$(B)/tests/helpers/http_echo: $(call objs,tests/helpers/http_echo.c) $(LIBXAPID) $(LIBCOMMON)
	$(call link_recipe,$(AS_NEEDED) $(LIBS_XAPID) $(LIBS_COMMON))
ALL_OBJS += $(call objs,tests/helpers/http_echo.c)
ALL_TESTS += $(B)/tests/helpers/http_echo
