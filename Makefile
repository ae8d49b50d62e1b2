# Non-recursive build of the whole toolstack.  Everything lands in $(B)/:
#   $(B)/bin      programs          $(B)/gen   generated sources (protoc-c, IDL)
#   $(B)/obj      objects           $(B)/lib   per-directory static libraries
#   $(B)/tests    test programs
# `make V=1` shows full commands, `make SANITIZE=1` builds everything with ASan+UBSan
# into build/asan, `CI=1 make` turns warnings into errors.
.DEFAULT_GOAL := all
.SUFFIXES:
.DELETE_ON_ERROR:

TOP := $(CURDIR)

include mk/config.mk
include mk/rules.mk

# Order matters only for what each module refers to from the ones before it.
include proto/module.mk
include common/module.mk
include idl/module.mk
include xapid/module.mk
include stord/module.mk
include netd/module.mk
include domd/module.mk
include cli/module.mk
include tests/module.mk
include bench/module.mk
include docs/module.mk
include systemd/module.mk

include mk/targets.mk
include mk/fuzz.mk

DEPFILES += $(ALL_OBJS:.o=.d) $(LLHTTP_OBJS:.o=.d)
-include $(DEPFILES)
