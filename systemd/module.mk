# systemd/: units, target and tmpfiles entry, installed by `make install`.
UNIT_FILES := $(wildcard systemd/*.service systemd/*.target)
TMPFILES := $(wildcard systemd/*.tmpfiles)
