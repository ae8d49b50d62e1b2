# cli/: tsctl (control-socket client) and xe (the XenAPI command line).
$(B)/bin/tsctl: $(call objs,cli/tsctl.c) $(LIBCOMMON)
	$(call link_recipe,$(LIBS_COMMON))
ALL_OBJS += $(call objs,cli/tsctl.c)
ALL_BINS += $(B)/bin/tsctl
BIN_PROGS += tsctl
