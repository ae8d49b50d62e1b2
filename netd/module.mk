# netd/: everything but main.c goes into libnetd.a so unit tests can link it.
NETD_SRCS := $(filter-out netd/main.c,$(wildcard netd/*.c))
LIBNETD := $(B)/lib/libnetd.a
$(LIBNETD): $(call objs,$(NETD_SRCS))
ALL_OBJS += $(call objs,$(NETD_SRCS) netd/main.c)

$(B)/bin/netd: $(call objs,netd/main.c) $(LIBNETD) $(LIBPROTO) $(LIBCOMMON)
	$(call link_recipe,$(LIBS_COMMON) $(LIBS_NETD))
ALL_BINS += $(B)/bin/netd
SBIN_PROGS += netd

# The driver of the kernel layer used by tests/net/test_netk (run inside a namespace).
NETK_HELPER := $(B)/tests/helpers/netk
ALL_OBJS += $(call objs,tests/net/netk_helper.c)
$(NETK_HELPER): $(call objs,tests/net/netk_helper.c) $(LIBNETD) $(LIBCOMMON)
	$(call link_recipe,$(LIBS_NETD) $(LIBS_COMMON) $(call pkg_libs,jansson))
ALL_TESTS += $(NETK_HELPER)
