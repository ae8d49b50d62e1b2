# stord/: everything but main.c goes into libstord.a so unit tests can link it.
STORD_SRCS := $(filter-out stord/main.c,$(wildcard stord/*.c))
LIBSTORD := $(B)/lib/libstord.a
$(LIBSTORD): $(call objs,$(STORD_SRCS))
ALL_OBJS += $(call objs,$(STORD_SRCS) stord/main.c)

$(B)/bin/stord: $(call objs,stord/main.c) $(LIBSTORD) $(LIBPROTO) $(LIBCOMMON)
	$(call link_recipe,$(LIBS_COMMON))
ALL_BINS += $(B)/bin/stord
SBIN_PROGS += stord
