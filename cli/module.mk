# cli/: tsctl (control-socket client) and xe (the XenAPI command line).
$(B)/bin/tsctl: $(call objs,cli/tsctl.c) $(LIBCOMMON)
	$(call link_recipe,$(LIBS_COMMON))
ALL_OBJS += $(call objs,cli/tsctl.c)
ALL_BINS += $(B)/bin/tsctl
BIN_PROGS += tsctl

# xe: everything but xe_main.c goes into libxe.a so unit tests can link it.  Its table of
# classes and fields is generated from the IDL into $(B)/gen/xe.
XE_GEN_C := $(B)/gen/xe/xe_schema_gen.c
XE_SRCS := $(filter-out cli/xe_main.c,$(wildcard cli/xe_*.c))
LIBXE := $(B)/lib/libxe.a
LIBS_XE := $(call pkg_libs,libxml-2.0 openssl)

$(XE_GEN_C): idl/gen_xe.py idl/xenapi.idl
	$(call quiet,GEN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(PYTHON) idl/gen_xe.py idl/xenapi.idl $@

$(LIBXE): $(call objs,$(XE_SRCS) $(XE_GEN_C))
$(B)/bin/xe: $(call objs,cli/xe_main.c) $(LIBXE)
	$(call link_recipe,$(LIBS_XE))
ALL_OBJS += $(call objs,$(XE_SRCS) cli/xe_main.c $(XE_GEN_C))
ALL_BINS += $(B)/bin/xe
BIN_PROGS += xe

# xe's unit tests link libxe.a too (the test rule links every library it is given).
XE_UNIT_TESTS := $(B)/tests/test_xe_args $(B)/tests/test_xe_xmlrpc
$(XE_UNIT_TESTS): $(LIBXE)

# `make install` also installs xe's bash completion.
BASHCOMPDIR ?= $(DATADIR)/bash-completion/completions
.PHONY: install-xe-completion
install: install-xe-completion
install-xe-completion:
	install -d $(DESTDIR)$(BASHCOMPDIR)
	install -m 0644 etc/bash_completion.d/xe $(DESTDIR)$(BASHCOMPDIR)/xe

# The libFuzzer target of xe's XML-RPC parser links libxe.a too (see mk/fuzz.mk).
ifeq ($(FUZZ),1)
$(B)/fuzz/fuzz_xe_xmlrpc: $(LIBXE)
endif
