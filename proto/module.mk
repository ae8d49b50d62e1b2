# Internal protocol: proto/*.proto compiled by protoc-c into $(B)/gen/proto.
PROTO_FILES := $(wildcard proto/*.proto)
PROTO_GEN_C := $(patsubst %.proto,$(B)/gen/%.pb-c.c,$(PROTO_FILES))
PROTO_GEN_H := $(PROTO_GEN_C:.c=.h)
GEN_HDRS += $(PROTO_GEN_H)

$(B)/gen/proto/%.pb-c.c $(B)/gen/proto/%.pb-c.h: proto/%.proto
	$(call quiet,PROTOC,$<)
	$(Q)mkdir -p $(B)/gen
	$(Q)$(PROTOC_C) --proto_path=. --c_out=$(B)/gen $<

LIBPROTO := $(B)/lib/libproto.a
$(LIBPROTO): $(call objs,$(PROTO_GEN_C))
ALL_OBJS += $(call objs,$(PROTO_GEN_C))
