# domd/: everything but main.c goes into libdomd.a so unit tests can link it.
# hv_xc*.c (the Xen backend) are built only when the libxen development files exist; then
# hv.c learns of it through HV_HAVE_XC.
DOMD_SRCS := $(filter-out domd/main.c,$(wildcard domd/*.c))
ifneq ($(HAVE_XEN),1)
DOMD_SRCS := $(filter-out domd/hv_xc%.c,$(DOMD_SRCS))
endif
ifneq ($(filter domd/hv_xc.c,$(DOMD_SRCS)),)
$(call objs,domd/hv.c $(filter domd/hv_xc%.c,$(DOMD_SRCS))): CPPFLAGS += -DHV_HAVE_XC=1
endif
LIBDOMD := $(B)/lib/libdomd.a
$(LIBDOMD): $(call objs,$(DOMD_SRCS))
ALL_OBJS += $(call objs,$(DOMD_SRCS) domd/main.c)
# The sim backend keeps its records as JSON.
LIBS_DOMD := $(call pkg_libs,jansson)

$(B)/bin/domd: $(call objs,domd/main.c) $(LIBDOMD) $(LIBPROTO) $(LIBCOMMON)
	$(call link_recipe,$(LIBS_DOMD) $(LIBS_COMMON) $(LIBS_XEN))
ALL_BINS += $(B)/bin/domd
SBIN_PROGS += domd
