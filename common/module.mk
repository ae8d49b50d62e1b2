# common/: logging, errors, uuid, config, event loop glue, messaging, control socket.
COMMON_SRCS := $(wildcard common/*.c)
LIBCOMMON := $(B)/lib/libcommon.a
$(LIBCOMMON): $(call objs,$(COMMON_SRCS))
ALL_OBJS += $(call objs,$(COMMON_SRCS))
