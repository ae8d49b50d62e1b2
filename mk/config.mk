# Toolchain, flags and the pkg-config probes of every dependency.

ifeq ($(SANITIZE),1)
B ?= build/asan
else
B ?= build
endif
# One spelling of the build directory (relative to the top when inside it): objects made with
# B=/abs/build and B=build must be the same targets, or their header dependencies (.d files
# naming the other spelling) silently stop applying.
override B := $(patsubst $(CURDIR)/%,%,$(abspath $(B)))

CC ?= cc
ifeq ($(origin CC),default)
CC := gcc
endif
PKG_CONFIG ?= pkg-config
PYTHON ?= python3
PROTOC_C ?= protoc-c

PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
DATADIR ?= $(PREFIX)/share
SYSTEMD_UNITDIR ?= $(shell $(PKG_CONFIG) --variable=systemdsystemunitdir systemd 2>/dev/null || echo /lib/systemd/system)
TMPFILESDIR ?= $(shell $(PKG_CONFIG) --variable=tmpfilesdir systemd 2>/dev/null || echo /usr/lib/tmpfiles.d)
PAMDIR ?= /etc/pam.d

VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
GIT_REV := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)

WARNINGS := -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
	-Wno-unused-parameter -Wno-missing-field-initializers -Wvla -Wpointer-arith
ifneq ($(CI),)
WARNINGS += -Werror
endif

OPT ?= -O2 -g
CPPFLAGS_BASE := -D_GNU_SOURCE \
	-I$(TOP) -I$(B)/gen -I/usr/share/include/llhttp
CFLAGS_BASE := -std=gnu11 $(OPT) $(WARNINGS) -fno-strict-aliasing -fstack-protector-strong \
	-MMD -MP
LDFLAGS_BASE :=

ifeq ($(SANITIZE),1)
CFLAGS_BASE += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS_BASE += -fsanitize=address,undefined
endif

# pkg-config modules by role.  A missing one stops the build with a hint.
PKGS_COMMON := libevent_core libzmq libprotobuf-c
PKGS_XAPID := libevent_openssl openssl libxml-2.0 jansson sqlite3
PKGS_NETD := libnl-3.0 libnl-route-3.0
PKGS_XEN := xencontrol xenguest xenstore xentoollog
PKGS_TEST := cmocka
PKGS_ALL := $(PKGS_COMMON) $(PKGS_XAPID) $(PKGS_NETD) $(PKGS_TEST)

AS_NEEDED := -Wl,--as-needed
pkg_cflags = $(shell $(PKG_CONFIG) --cflags $(1))
pkg_libs = $(shell $(PKG_CONFIG) --libs $(1))

PKG_MISSING := $(foreach p,$(PKGS_ALL),$(if $(shell $(PKG_CONFIG) --exists $(p) && echo y),,$(p)))
HAVE_XEN := $(shell $(PKG_CONFIG) --exists $(PKGS_XEN) && echo 1)

CPPFLAGS_BASE += $(call pkg_cflags,$(PKGS_ALL))
ifeq ($(HAVE_XEN),1)
CPPFLAGS_BASE += -DHAVE_XEN=1 $(call pkg_cflags,$(PKGS_XEN))
endif

ALL_CPPFLAGS = $(CPPFLAGS_BASE) $(CPPFLAGS)
ALL_CFLAGS = $(CFLAGS_BASE) $(CFLAGS)
ALL_LDFLAGS = $(LDFLAGS_BASE) $(LDFLAGS)

LIBS_COMMON := $(call pkg_libs,$(PKGS_COMMON)) -lpthread
LIBS_XAPID := $(call pkg_libs,$(PKGS_XAPID)) -lpam -lcrypt
LIBS_NETD := $(call pkg_libs,$(PKGS_NETD))
LIBS_XEN := $(if $(HAVE_XEN),$(call pkg_libs,$(PKGS_XEN)))
LIBS_TEST := $(call pkg_libs,$(PKGS_TEST))

# llhttp is compiled from the C sources Debian's node-llhttp ships.
LLHTTP_DIR ?= /usr/share/llhttp
LLHTTP_SRCS := $(wildcard $(LLHTTP_DIR)/api.c $(LLHTTP_DIR)/http.c $(LLHTTP_DIR)/llhttp.c)
