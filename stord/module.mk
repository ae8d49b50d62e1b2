# stord/: everything but main.c goes into libstord.a so unit tests can link it.
STORD_SRCS := $(filter-out stord/main.c,$(wildcard stord/*.c))
LIBSTORD := $(B)/lib/libstord.a
$(LIBSTORD): $(call objs,$(STORD_SRCS))
ALL_OBJS += $(call objs,$(STORD_SRCS) stord/main.c)
# The SR drivers parse qemu-img and lvm2 JSON with jansson.
LIBS_STORD := $(call pkg_libs,jansson)

$(B)/bin/stord: $(call objs,stord/main.c) $(LIBSTORD) $(LIBPROTO) $(LIBCOMMON)
	$(call link_recipe,$(LIBS_STORD) $(LIBS_COMMON))
ALL_BINS += $(B)/bin/stord
SBIN_PROGS += stord
