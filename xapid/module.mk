# xapid/: everything but main.c goes into libxapid.a so unit tests can link it,
# together with llhttp (built from Debian's node-llhttp sources).
XAPID_SRCS := $(filter-out xapid/main.c,$(wildcard xapid/*.c))
LLHTTP_OBJS := $(patsubst $(LLHTTP_DIR)/%.c,$(B)/obj/llhttp/%.o,$(LLHTTP_SRCS))
LIBXAPID := $(B)/lib/libxapid.a
$(LIBXAPID): $(call objs,$(XAPID_SRCS)) $(LLHTTP_OBJS) $(API_GEN_OBJS)
ALL_OBJS += $(call objs,$(XAPID_SRCS) xapid/main.c)

$(B)/obj/llhttp/%.o: $(LLHTTP_DIR)/%.c
	$(call quiet,CC,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CPPFLAGS) -std=gnu11 $(OPT) -MMD -MP $(filter -fsanitize%,$(CFLAGS_BASE) $(CFLAGS)) -c -o $@ $<

$(B)/bin/xapid: $(call objs,xapid/main.c) $(LIBXAPID) $(LIBPROTO) $(LIBCOMMON)
	$(call link_recipe,$(LIBS_COMMON) $(LIBS_XAPID))
ALL_BINS += $(B)/bin/xapid
SBIN_PROGS += xapid
