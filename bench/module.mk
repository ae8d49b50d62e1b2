# bench/: benchmark programs, built by `make bench` (never by `make check`).
LIBS_ABYSS = $(shell xmlrpc-c-config abyss-server --libs 2>/dev/null)
BENCH_BINS := $(B)/bench/rpc_load $(B)/bench/abyss_anchor $(B)/bench/db_commit_bench \
	$(B)/bench/storage_allowed_bench

$(B)/bench/rpc_load: $(call objs,bench/rpc_load.c)
	$(call link_recipe,$(call pkg_libs,openssl) -lpthread)
$(B)/bench/abyss_anchor: $(call objs,bench/abyss_anchor.c)
	$(call link_recipe,$(LIBS_ABYSS))
# Durable commits/s of the datamodel journal (group commit) and its load time.
$(B)/bench/db_commit_bench: $(call objs,bench/db_commit_bench.c) $(LIBXAPID) $(LIBPROTO) $(LIBCOMMON)
	$(call link_recipe,$(AS_NEEDED) $(LIBS_XAPID) $(LIBS_COMMON))
ALL_OBJS += $(call objs,bench/rpc_load.c bench/abyss_anchor.c bench/db_commit_bench.c)
# Recomputing SR/VDI allowed_operations with 15,000 VDIs and VBDs.
$(B)/bench/storage_allowed_bench: $(call objs,bench/storage_allowed_bench.c) $(LIBXAPID) $(LIBPROTO) \
    $(LIBCOMMON)
	$(call link_recipe,$(AS_NEEDED) $(LIBS_XAPID) $(LIBS_COMMON))
ALL_OBJS += $(call objs,bench/storage_allowed_bench.c)
