# domd/: everything but main.c goes into libdomd.a so unit tests can link it.
DOMD_SRCS := $(filter-out domd/main.c,$(wildcard domd/*.c))
LIBDOMD := $(B)/lib/libdomd.a
$(LIBDOMD): $(call objs,$(DOMD_SRCS))
ALL_OBJS += $(call objs,$(DOMD_SRCS) domd/main.c)

$(B)/bin/domd: $(call objs,domd/main.c) $(LIBDOMD) $(LIBPROTO) $(LIBCOMMON)
	$(call link_recipe,$(LIBS_COMMON) $(LIBS_XEN))
ALL_BINS += $(B)/bin/domd
SBIN_PROGS += domd
