# SPDX-License-Identifier: PostgreSQL
# clustered_nodes: build, test, demo, install.
#
#   make            build ./clustered_nodes
#   make check      install missing Debian packages (as root), then unit and
#                   integration tests against a throwaway PostgreSQL
#   make demo       install what is missing, then replay the seed's failover
#   make ha-test    the nodes under a pg_auto_failover formation, every fault
#   make install    PREFIX=/usr/local DESTDIR=
#   make deb        install missing build dependencies (as root), then build
#                   the Debian package from a clean copy into build/deb/
#   make operator-test  README's install-to-failover steps, literally, from
#                   the package (as root; uses the machine's PostgreSQL 15/main)

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share/clustered_nodes
MANDIR ?= $(PREFIX)/share/man
UNITDIR ?= $(PREFIX)/lib/systemd/system
PKG_CONFIG ?= pkg-config
CC ?= cc
CFLAGS ?= -O2 -g

# Ours are added to the user's CFLAGS, never instead of them.
WARN = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
       -Wformat=2 -Wformat-security -Wvla -Wpointer-arith -Wcast-qual -Wundef
HARDEN = -fstack-protector-strong -fPIE
ifneq ($(filter -O1 -O2 -O3 -Os,$(CFLAGS)),)
HARDEN += -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=2
endif
PQ_CFLAGS := $(shell $(PKG_CONFIG) --cflags libpq 2>/dev/null)
PQ_LIBS := $(shell $(PKG_CONFIG) --libs libpq 2>/dev/null || echo -lpq)
CHECK_CFLAGS := $(shell $(PKG_CONFIG) --cflags check 2>/dev/null)
CHECK_LIBS := $(shell $(PKG_CONFIG) --libs check 2>/dev/null || echo -lcheck)
# Where messages say the migrations are (db_fault.c: the first of this, /usr/share and
# /usr/local/share that has them, at run time).
ALL_CFLAGS = -std=c11 -D_DEFAULT_SOURCE -DCN_SQLDIR='"$(DATADIR)/sql/"' $(WARN) $(HARDEN) $(addprefix -I,$(LAYERS)) $(PQ_CFLAGS) $(MHD_CFLAGS) \
             $(CFLAGS) -MMD -MP
ALL_LDFLAGS = -pie -Wl,-z,relro,-z,now $(LDFLAGS)
# Debian's libev ships no pkg-config file.
# libinih (Debian's libinih-dev) parses the config file.
INIH_LIBS := $(shell $(PKG_CONFIG) --libs inih 2>/dev/null || echo -linih)
# libmicrohttpd (Debian's libmicrohttpd-dev) serves the status endpoint.
MHD_CFLAGS := $(shell $(PKG_CONFIG) --cflags libmicrohttpd 2>/dev/null)
MHD_LIBS := $(shell $(PKG_CONFIG) --libs libmicrohttpd 2>/dev/null || echo -lmicrohttpd)
LIBS = $(PQ_LIBS) $(INIH_LIBS) $(MHD_LIBS) -lev

# `make V=1` shows the commands.
Q = $(if $(V),,@)
BUILD = build
PROG = clustered_nodes

# One folder per layer, bottom up; a file calls only its own layer or those below
# (scripts/check-layers.sh enforces it after every link, docs/ARCHITECTURE.md draws it):
#   core   pure logic, unit-tested without a database: no libev, no connection
#   db     the coordination session: pgconn, session, setup; the SQL (queries.h)
#   node   membership, standby, leaders, partitions, exec, the node's wiring
#   serve  the status endpoint and its pages
#   cmd    main and the one-shot commands (status, --check)
LAYERS = src/core src/db src/node src/serve src/cmd
PURE_SRCS = $(sort $(wildcard src/core/*.c))
SRCS = $(foreach d,$(LAYERS),$(sort $(wildcard $(d)/*.c)))
# Objects sit side by side in $(BUILD): every source file's name is unique.
vpath %.c $(LAYERS)
OBJS = $(addprefix $(BUILD)/,$(notdir $(SRCS:.c=.o)))
UNIT_SRCS = $(wildcard tests/unit/*.c)
UNIT_OBJS = $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/unit/%.o) $(addprefix $(BUILD)/,$(notdir $(PURE_SRCS:.c=.o)))

.PHONY: all check unit integration ha-test ha-short demo bench soak deps deb operator-test install uninstall clean

all: $(PROG)

# Every build checks the layering from the objects' symbol tables (scripts/check-layers.sh).
$(PROG): $(OBJS)
	@echo "  LD    $@"
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $(OBJS) $(LIBS)
	$(Q)bash scripts/check-layers.sh $(BUILD) || { rm -f $@; exit 1; }

$(BUILD)/%.o: %.c | $(BUILD)
	@echo "  CC    $<"
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/unit/%.o: tests/unit/%.c | $(BUILD)/unit
	@echo "  CC    $<"
	$(Q)$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -c -o $@ $<

$(BUILD)/check_unit: $(UNIT_OBJS)
	@echo "  LD    $@"
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $(UNIT_OBJS) $(CHECK_LIBS) $(PQ_LIBS) $(INIH_LIBS)

$(BUILD) $(BUILD)/unit:
	mkdir -p $@

# deps may install pkg-config files this make has already looked for, so the
# real work runs in a fresh make that sees them.
check: deps
	@$(MAKE) --no-print-directory unit integration ha-short

demo: deps
	@$(MAKE) --no-print-directory $(PROG)
	@bash scripts/demo.sh

deps:
	@bash scripts/install-deps.sh

# debian/ builds in a copy of the tree (tracked and untracked, not ignored
# files): the .deb, .changes and .buildinfo land in build/deb/.
deb:
	@bash scripts/deb.sh

# README's operator path, from make deb to purge, on this machine's PostgreSQL
# (root; CI runs it after make check).
operator-test:
	@bash tests/package/operator.sh

bench: deps
	@$(MAKE) --no-print-directory $(PROG) $(BUILD)/raw_listener
	@bash bench/run.sh

# SOAK_SECONDS=120 by default, single leader then 6 partitions; make check runs a
# 30-second and a 20-second one.
soak: deps
	@$(MAKE) --no-print-directory $(PROG)
	@bash tests/soak/run.sh
	@SOAK_PARTITIONS=6 bash tests/soak/run.sh

# The HA test under pg_auto_failover: every fault; make check runs a planned failover and
# the synchronous standby's loss (ha-short).
ha-test: deps
	@$(MAKE) --no-print-directory $(PROG) $(BUILD)/ha_producer
	@HA_FAULTS=all bash tests/ha/run.sh

ha-short: $(PROG) $(BUILD)/ha_producer
	@HA_FAULTS=short bash tests/ha/run.sh

$(BUILD)/ha_producer: tests/ha/producer.c | $(BUILD)
	@echo "  CC    $<"
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(PQ_LIBS)

# The node's routing of payloads read from stdin, for tests/integration/t_json_routing.sh.
$(BUILD)/route_payloads: tests/integration/route_payloads.c $(BUILD)/event_route.o \
		$(BUILD)/json_field.o $(BUILD)/json_lex.o $(BUILD)/escape.o | $(BUILD)
	@echo "  CC    $<"
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^

$(BUILD)/raw_listener: bench/raw_listener.c | $(BUILD)
	@echo "  CC    $<"
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(LIBS)

unit: $(BUILD)/check_unit $(PROG)
	$(BUILD)/check_unit
	@bash scripts/check-layers-selftest.sh $(BUILD)
	@python3 scripts/check-doc-links.py

integration: $(PROG) $(BUILD)/route_payloads
	@bash tests/integration/run.sh

install: $(PROG)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR)/sql $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(UNITDIR)
	install -m 0755 $(PROG) $(DESTDIR)$(BINDIR)/$(PROG)
	install -m 0644 sql/*.sql $(DESTDIR)$(DATADIR)/sql/
	install -m 0644 etc/clustered_nodes.conf $(DESTDIR)$(DATADIR)/clustered_nodes.conf.sample
	install -m 0644 etc/clustered_nodes.1 $(DESTDIR)$(MANDIR)/man1/clustered_nodes.1
	install -m 0644 etc/clustered_nodes.conf.5 $(DESTDIR)$(MANDIR)/man5/clustered_nodes.conf.5
	sed 's|@BINDIR@|$(BINDIR)|g' etc/clustered_nodes@.service \
		>$(DESTDIR)$(UNITDIR)/clustered_nodes@.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/clustered_nodes@.service

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/$(PROG) $(DESTDIR)$(MANDIR)/man1/clustered_nodes.1 \
		$(DESTDIR)$(MANDIR)/man5/clustered_nodes.conf.5 \
		$(DESTDIR)$(UNITDIR)/clustered_nodes@.service
	rm -rf $(DESTDIR)$(DATADIR)

clean:
	rm -rf $(BUILD) $(PROG)

-include $(OBJS:.o=.d) $(UNIT_OBJS:.o=.d)
