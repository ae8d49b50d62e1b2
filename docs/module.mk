# docs/: man pages (docs/man/*.[158]) installed by `make install`.
MAN_PAGES := $(wildcard docs/man/*.[158])
