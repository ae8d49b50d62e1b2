# Pattern rules and helpers shared by every module.mk.

ifeq ($(V),1)
Q :=
quiet = @:
else
Q := @
quiet = @printf '  %-7s %s\n' $(1) $(2);
endif

DEPFILES :=
ALL_BINS :=
ALL_TESTS :=

# $(call objs,SRCS): object files of sources; generated sources live under $(B)/gen.
objs = $(patsubst $(B)/gen/%.c,$(B)/obj/gen/%.o,$(patsubst %.c,$(B)/obj/%.o,$(1)))

$(B)/obj/%.o: %.c
	$(call quiet,CC,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

$(B)/obj/gen/%.o: $(B)/gen/%.c
	$(call quiet,CC,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -Wno-missing-prototypes -c -o $@ $<

$(B)/lib/%.a:
	$(call quiet,AR,$@)
	$(Q)mkdir -p $(@D)
	$(Q)rm -f $@ && ar rcs $@ $^

# $(call link,OUTPUT) is the recipe body shared by every program.
define link_recipe
	$(call quiet,LD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $(filter %.o,$^) -Wl,--start-group $(filter %.a,$^) -Wl,--end-group $(1)
endef

# $(B)/gen/version.h carries the version and git revision; it is rewritten only when they
# change, so objects that include it rebuild exactly then (and no others do).
VERSION_H := $(B)/gen/version.h
GEN_HDRS += $(VERSION_H)
$(VERSION_H): FORCE
	$(Q)mkdir -p $(@D)
	$(Q)printf '#define TS_VERSION "%s"\n#define TS_GIT_REV "%s"\n' '$(VERSION)' '$(GIT_REV)' > $@.tmp
	$(Q)if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi
.PHONY: FORCE
FORCE:
