# idl/: the XenAPI description and its generator (output only in $(B)/gen/api).
# idl/xenapi.idl is committed; idl/import-xenapi.py regenerates it from XAPI's xenapi.json.
API_GEN_DIR := $(B)/gen/api
API_GEN_C := $(addprefix $(API_GEN_DIR)/,model_gen.c dispatch.c unimplemented.c)
API_GEN_H := $(addprefix $(API_GEN_DIR)/,model_gen.h types_gen.h handlers.h)
API_GEN_INPUTS := idl/gen.py idl/xenapi.idl idl/implemented.txt
GEN_HDRS += $(API_GEN_H)
API_GEN_OBJS += $(call objs,$(API_GEN_C))

# One stamp so the generator runs once for all its outputs, even with -j.
$(API_GEN_DIR)/.stamp: $(API_GEN_INPUTS)
	$(call quiet,GEN,$(API_GEN_DIR))
	$(Q)$(PYTHON) idl/gen.py idl/xenapi.idl idl/implemented.txt $(API_GEN_DIR)
	$(Q)touch $@
$(API_GEN_C) $(API_GEN_H): $(API_GEN_DIR)/.stamp ;

# `make idl-check`: the committed IDL equals what the importer makes of ../shared/xenapi.
XENAPI_JSON_DIR ?= $(TOP)/../shared/xenapi
.PHONY: idl-check
idl-check:
	@if [ -f $(XENAPI_JSON_DIR)/xenapi.json ]; then \
		$(PYTHON) idl/import-xenapi.py $(XENAPI_JSON_DIR)/xenapi.json \
			$(XENAPI_JSON_DIR)/errors.json idl/sync-calls.txt | cmp -s - idl/xenapi.idl \
		&& echo "idl-check: idl/xenapi.idl is current" \
		|| { echo "idl-check: idl/xenapi.idl differs from import-xenapi.py output"; exit 1; }; \
	else echo "idl-check: $(XENAPI_JSON_DIR) absent, skipped"; fi
