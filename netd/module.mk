# netd/: everything but main.c goes into libnetd.a so unit tests can link it.
NETD_SRCS := $(filter-out netd/main.c,$(wildcard netd/*.c))
LIBNETD := $(B)/lib/libnetd.a
$(LIBNETD): $(call objs,$(NETD_SRCS))
ALL_OBJS += $(call objs,$(NETD_SRCS) netd/main.c)

$(B)/bin/netd: $(call objs,netd/main.c) $(LIBNETD) $(LIBPROTO) $(LIBCOMMON)
	$(call link_recipe,$(LIBS_COMMON) $(LIBS_NETD))
ALL_BINS += $(B)/bin/netd
SBIN_PROGS += netd
