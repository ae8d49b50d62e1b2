# Top-level targets.
$(ALL_OBJS): | $(GEN_HDRS)

.PHONY: all tests check check-run check-format format install clean demo bench fuzz deps \
	check-deps-present

check-deps-present:
	@if [ -n "$(strip $(PKG_MISSING))" ]; then \
		echo "missing development packages (pkg-config): $(PKG_MISSING)"; \
		echo "run: scripts/install-deps"; exit 1; fi

all: check-deps-present $(ALL_BINS)
tests: all $(ALL_TESTS)

deps:
	@scripts/install-deps

# `make check` installs what is missing first, then re-enters make so the pkg-config
# probes above see the freshly installed packages.
check: deps
	@$(MAKE) --no-print-directory check-run

check-run: tests
	@B=$(B) SANITIZE=$(SANITIZE) $(PYTHON) tests/run

bench: deps
	@$(MAKE) --no-print-directory all $(BENCH_BINS)
	@B=$(B) $(PYTHON) bench/run
	@$(MAKE) --no-print-directory tests >/dev/null
	-@B=$(B) $(PYTHON) bench/xen_lifecycle

demo: deps
	@$(MAKE) --no-print-directory all
	@B=$(B) scripts/demo

FORMAT_SRCS = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
check-format:
	@out=$$(for f in $(FORMAT_SRCS); do clang-format --dry-run -Werror $$f 2>&1 >/dev/null || echo "$$f"; done); \
	if [ -n "$$out" ]; then echo "not clang-formatted:"; echo "$$out" | grep -v '^$$' | grep -v ': ' | sort -u; \
		echo "fix with: make format"; exit 1; else echo "check-format: clean"; fi
format:
	@clang-format -i $(FORMAT_SRCS)

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(SYSTEMD_UNITDIR) \
		$(DESTDIR)$(TMPFILESDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(SYSCONFDIR)/xapid $(DESTDIR)$(PAMDIR)
	install -m 0755 $(addprefix $(B)/bin/,$(SBIN_PROGS)) $(DESTDIR)$(SBINDIR)/
	install -m 0755 $(addprefix $(B)/bin/,$(BIN_PROGS)) $(DESTDIR)$(BINDIR)/
	$(if $(UNIT_FILES),for u in $(UNIT_FILES); do sed 's|@SBINDIR@|$(SBINDIR)|g' $$u > $(DESTDIR)$(SYSTEMD_UNITDIR)/$$(basename $$u); chmod 0644 $(DESTDIR)$(SYSTEMD_UNITDIR)/$$(basename $$u); done)
	$(if $(TMPFILES),for t in $(TMPFILES); do install -m 0644 $$t $(DESTDIR)$(TMPFILESDIR)/$$(basename $$t .tmpfiles).conf; done)
	$(if $(MAN_PAGES),for m in $(MAN_PAGES); do s=$${m##*.}; install -m 0644 $$m $(DESTDIR)$(MANDIR)/man$$s/; done)
	for d in $(SBIN_PROGS); do $(B)/bin/$$d --print-config > $(DESTDIR)$(SYSCONFDIR)/xapid/$$d.conf; \
		$(B)/bin/$$d -n -c $(DESTDIR)$(SYSCONFDIR)/xapid/$$d.conf >/dev/null; done
	$(if $(wildcard etc/pam.d/*),install -m 0644 $(wildcard etc/pam.d/*) $(DESTDIR)$(PAMDIR)/)

clean:
	rm -rf build

# The real-Xen tier alone (tests/xen: Xen 4.17 and a dom0 booted under QEMU; `make check`
# runs it too).  Prepares its images under $(B)/xen-cache on first use.
.PHONY: check-xen
check-xen: deps
	@$(MAKE) --no-print-directory tests
	@B=$(B) $(PYTHON) tests/run xen/

# The kernel tier alone (tests/kern: Debian's kernel booted without Xen under QEMU, for the
# LVM, NFS, VLAN and bond cases; `make check` runs it too).
.PHONY: check-kern
check-kern: deps
	@$(MAKE) --no-print-directory tests
	@B=$(B) $(PYTHON) tests/run kern/
