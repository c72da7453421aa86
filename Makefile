# bartoggle: plain GNU make + pkg-config.
#   make deps    install what is missing (Debian, apt-get; needs root then)
#   make all     build/bartoggle-repro and libbartoggle.a
#   make check   deps, build, unit + integration tests
#   make demo    deps, build, the main job on the embedded default
#   make report  deps, build, survival statistics over results/
#   make install the binaries, scripts and the systemd unit under PREFIX
# Honours CC, CFLAGS, LDFLAGS, O= (build directory).

O		?= build
CC		?= gcc
CFLAGS		?= -O2 -g
PKG_CONFIG	?= pkg-config
VERSION		:= $(shell git describe --always --dirty 2>/dev/null || echo unknown)

# Recursive (=): pkg-config is only asked once deps has installed it.
JSON_CFLAGS	= $(shell $(PKG_CONFIG) --cflags json-c)
JSON_LIBS	= $(shell $(PKG_CONFIG) --libs json-c)
CHECK_CFLAGS	= $(shell $(PKG_CONFIG) --cflags check)
CHECK_LIBS	= $(shell $(PKG_CONFIG) --libs check)
HOST_LIBS	= $(shell $(PKG_CONFIG) --libs inih libpci)
RUN_LIBS	= $(shell $(PKG_CONFIG) --libs libsystemd)

BT_CFLAGS	= -std=gnu11 -D_GNU_SOURCE -Iinclude -Iinclude/uapi -MD -MP \
		  -Wall -Wextra -Wstrict-prototypes -Wmissing-prototypes -Wvla \
		  -Wformat=2 -Wno-format-nonliteral -Wno-format-truncation \
		  $(JSON_CFLAGS)
ALL_CFLAGS	= $(BT_CFLAGS) $(CFLAGS)

LIB_SRCS	:= $(wildcard lib/*.c)
LIB_OBJS	:= $(LIB_SRCS:%.c=$(O)/%.o)
LIB		:= $(O)/libbartoggle.a

REPRO_OBJS	:= $(patsubst %.c,$(O)/%.o,$(wildcard repro/*.c)) $(O)/repro/guest.o
REPRO		:= $(O)/bartoggle-repro

STATIC_REPRO	:= $(O)/static/bartoggle-repro

AGENT_OBJS	:= $(O)/guest-agent/main.o $(O)/guest-agent/options.o \
		   $(O)/guest-agent/proto.o $(O)/guest-agent/run.o \
		   $(O)/guest-agent/safety.o
AGENT		:= $(O)/bartoggle-agent
RAWTOGGLE	:= $(O)/static/bt-rawtoggle
KVMHOLD		:= $(O)/static/bt-kvmhold
MINRACE		:= $(O)/bt-minrace
KSELFTEST	:= $(O)/static/pfnmap_memory_fault_test

RUN_OBJS	:= $(patsubst %.c,$(O)/%.o,$(wildcard host-runner/*.c))
RUN		:= $(O)/bartoggle-run

# libFuzzer targets (tests/fuzz/): clang, ASan + UBSan, in $(O)/fuzz.
FUZZ_CC		?= clang
FUZZ_SAN	:= -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS	:= -Wno-unknown-warning-option -g -O1 -fno-omit-frame-pointer $(FUZZ_SAN) -fsanitize=fuzzer-no-link
FUZZ_TARGETS	:= $(patsubst tests/fuzz/fuzz_%.c,%,$(filter-out tests/fuzz/fuzz_file.c,$(wildcard tests/fuzz/fuzz_*.c)))
FUZZ_BINS	:= $(FUZZ_TARGETS:%=$(O)/fuzz/fuzz_%)
FUZZ_LIB	:= $(O)/fuzz/libbartoggle.a
FUZZ_SECONDS	?= 60

UNIT_SRCS	:= $(wildcard tests/unit/check_*.c)
UNIT_BINS	:= $(UNIT_SRCS:tests/unit/%.c=$(O)/tests/%)

.SECONDARY:
.PHONY: FORCE all deps check check-run unit integration demo nested nested-full \
	nested-matrix qemu-fixed kmod bench report fuzz fuzz-build install clean
all: $(REPRO) $(AGENT) $(RUN)

deps:
	@scripts/deps.sh

$(O)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(O)/%.o: %.S
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# Only version.o sees the version, and it is rebuilt whenever it changes.
$(O)/lib/version.o $(O)/fuzz/lib/version.o: BT_CFLAGS += -DBT_VERSION='"0.1.0-$(VERSION)"'
$(O)/lib/version.o $(O)/fuzz/lib/version.o: $(O)/version.stamp
$(O)/version.stamp: FORCE
	@mkdir -p $(O)
	@echo '$(VERSION)' | cmp -s - $@ || echo '$(VERSION)' > $@

$(LIB): $(LIB_OBJS)
	$(AR) rcs $@ $^

$(REPRO): $(REPRO_OBJS) $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(JSON_LIBS) -lpthread -lm

# For guests: no shared library to find there.
$(STATIC_REPRO): $(REPRO_OBJS) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -static -o $@ $^ $(JSON_LIBS) -lpthread -lm

# Static (libc and json-c): it runs in whatever guest the user has.
$(AGENT): $(AGENT_OBJS) $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) -static -pthread -o $@ $^ $(JSON_LIBS) -lm

$(RUN): $(RUN_OBJS) $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(HOST_LIBS) $(RUN_LIBS) $(JSON_LIBS) -lpthread -lm

$(RAWTOGGLE): $(O)/guest-agent/rawtoggle.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -static -o $@ $^ -lm

# For L1 guests: one VM held open all along (tools/kvmhold.c says why).
$(KVMHOLD): $(O)/tools/kvmhold.o
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -static -o $@ $^

# make bench's ceiling for the reproducer (tools/minrace.c says why).
$(MINRACE): $(O)/tools/minrace.o
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ -lpthread

# The selftest (tests/kselftest/), static for L1 guests.
$(KSELFTEST): $(O)/tests/kselftest/pfnmap_memory_fault_test.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -static -o $@ $^ -lm

# The sanitized build of what the fuzz targets reach.
$(O)/fuzz/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(BT_CFLAGS) -Irepro -Iguest-agent $(FUZZ_CFLAGS) -c -o $@ $<

$(FUZZ_LIB): $(LIB_SRCS:%.c=$(O)/fuzz/%.o)
	$(AR) rcs $@ $^

$(O)/fuzz/fuzz_agent_cmd: $(O)/fuzz/guest-agent/options.o $(O)/fuzz/guest-agent/proto.o
$(O)/fuzz/fuzz_options: $(O)/fuzz/guest-agent/options.o $(O)/fuzz/repro/options.o
$(O)/fuzz/fuzz_config $(O)/fuzz/fuzz_records: $(O)/fuzz/tests/fuzz/fuzz_file.o
$(O)/fuzz/fuzz_%: $(O)/fuzz/tests/fuzz/fuzz_%.o $(FUZZ_LIB)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $(filter %.o,$^) $(FUZZ_LIB) \
		$(HOST_LIBS) $(JSON_LIBS) -lpthread -lm

$(O)/tests/check_agent: $(O)/guest-agent/options.o $(O)/guest-agent/proto.o \
	$(O)/guest-agent/run.o $(O)/guest-agent/safety.o
$(O)/tests/check_options: $(O)/repro/options.o
$(O)/tests/check_%: $(O)/tests/unit/check_%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LIB) \
		$(CHECK_LIBS) $(HOST_LIBS) $(JSON_LIBS) -lpthread -lm

$(O)/tests/unit/%.o: tests/unit/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Irepro -Iguest-agent $(CHECK_CFLAGS) -c -o $@ $<

# CI and users run exactly this: install, build, every test.
check: deps
	@$(MAKE) --no-print-directory check-run

check-run: all $(STATIC_REPRO) $(KVMHOLD) $(KSELFTEST) $(UNIT_BINS) $(FUZZ_BINS)
	@tests/run.sh $(O)

unit: $(UNIT_BINS)
	@tests/run.sh --unit-only $(O)

integration: all
	@tests/run.sh --integration-only $(O)

# The main job on the embedded default: configs/demo.ini (QEMU's emulated
# edu, a Debian guest kernel, TCG where KVM cannot run stock guests).
demo: deps
	@$(MAKE) --no-print-directory all
	@$(RUN) --config configs/demo.ini $(DEMO_ARGS)

# The real vfio-pci and KVM of a stock Debian kernel, in a QEMU guest (L1).
nested: deps
	@$(MAKE) --no-print-directory $(STATIC_REPRO) $(KVMHOLD) $(KSELFTEST)
	@scripts/nested-lane.sh --repro $(STATIC_REPRO) $(NESTED_ARGS)

# bartoggle-run inside the nested lane's L1: edu assigned to an L2 KVM guest.
NESTED_FULL_ARGS ?=
nested-full: deps
	@$(MAKE) --no-print-directory $(RUN) $(AGENT) $(KVMHOLD)
	@scripts/nested-full.sh --run $(RUN) --agent $(AGENT) --kvmhold $(KVMHOLD) $(NESTED_FULL_ARGS)

# The lane on every kernel of the matrix (stock 6.1 and 6.12, the 6.12
# control rebuild, 6.12 + fixes/kvm-memory-fault-exit.patch), nested-full's
# default arm on 6.12 and 6.12 + fix with each QEMU of the VMM axis (Debian's,
# the unpatched rebuild, + fixes/qemu/: scripts/qemu-build.sh), then the
# report over them.
NESTED_MATRIX_ARGS ?=
nested-matrix: deps
	@$(MAKE) --no-print-directory $(STATIC_REPRO) $(KVMHOLD) $(KSELFTEST) $(RUN) $(AGENT)
	@scripts/nested-matrix.sh --repro $(STATIC_REPRO) --run $(RUN) --agent $(AGENT) \
		$(NESTED_MATRIX_ARGS)

# The helper module (kmod/) against KDIR, by default the running kernel's
# headers; built in $(O)/kmod so the checkout stays clean. Loading it is
# yours to do (insmod $(O)/kmod/bartoggle_pfnmap.ko): this never loads it.
KDIR		?= /lib/modules/$(shell uname -r)/build
KMOD_SRCS	:= kmod/bartoggle_pfnmap.c kmod/Kbuild include/uapi/bartoggle_pfnmap.h
kmod: $(KMOD_SRCS)
	@test -e "$(KDIR)/Makefile" || { \
		echo "kmod: no kernel build tree at $(KDIR): install linux-headers-$$(uname -r)," \
			"or point KDIR= at a prepared tree (scripts/kmod-build.sh builds for the nested lane's kernels)" >&2; \
		exit 1; }
	@mkdir -p $(O)/kmod
	@cp $(KMOD_SRCS) $(O)/kmod/
	$(MAKE) -C "$(KDIR)" M="$(abspath $(O)/kmod)" O= modules
	@echo "kmod: $(O)/kmod/bartoggle_pfnmap.ko (load: insmod $(O)/kmod/bartoggle_pfnmap.ko)" >&2

# Debian's QEMU source, built minimal twice: unpatched (the control) and with
# fixes/qemu/*.patch; cached in $$BARTOGGLE_CACHE/qemu (scripts/qemu-build.sh).
# Prints the patched binary's path.
qemu-fixed:
	@scripts/deps.sh --qemu-build
	@scripts/qemu-build.sh --control >/dev/null
	@scripts/qemu-build.sh

# The reproducer vs the minimal KVM loop on this host's /dev/kvm; the
# nested lane's race rates on vfio, stock and fixed 6.12 (BENCH_NESTED=0:
# not); the agent vs a raw toggle loop vs setpci, in one TCG guest with edu.
BENCH_CYCLES	?= 2000
BENCH_NESTED	?= 1
bench: deps
	@$(MAKE) --no-print-directory $(REPRO) $(MINRACE) $(AGENT) $(RAWTOGGLE) \
		$(if $(filter 1,$(BENCH_NESTED)),$(STATIC_REPRO) $(KVMHOLD) $(KSELFTEST))
	@scripts/bench.sh --agent $(AGENT) --raw $(RAWTOGGLE) --cycles $(BENCH_CYCLES) \
		--repro $(REPRO) --minrace $(MINRACE) \
		$(if $(filter 1,$(BENCH_NESTED)),--nested-repro $(STATIC_REPRO))

# Every parser of outside input under libFuzzer for FUZZ_SECONDS each
# (scripts/fuzz.sh: corpora in $$BARTOGGLE_CACHE/fuzz, seeded from
# tests/data and tests/fuzz/seeds; a crash is kept in results/fuzz and
# fails the run; tests/fuzz/regressions/ replays the crashes found so far).
FUZZ_ARGS ?=
fuzz: deps
	@$(MAKE) --no-print-directory fuzz-build
	@scripts/fuzz.sh --build $(O)/fuzz --seconds $(FUZZ_SECONDS) $(FUZZ_ARGS) $(FUZZ_TARGETS)

fuzz-build: $(FUZZ_BINS)

# Every records.jsonl under results/ (or REPORT_ARGS) into results/report/.
REPORT_ARGS ?=
report: deps
	@$(MAKE) --no-print-directory $(RUN) >&2
	@$(RUN) report $(REPORT_ARGS)

# The binaries, scripts and the systemd unit under PREFIX (DESTDIR for a
# staging root). bartoggle-run finds its scripts beside its own directory:
# $(PREFIX)/lib/bartoggle/{bin,scripts}, with $(PREFIX)/bin/bartoggle-run a link.
PREFIX		?= /usr/local
SYSCONFDIR	?= /etc
UNITDIR		?= $(SYSCONFDIR)/systemd/system
BT_LIBDIR	= $(PREFIX)/lib/bartoggle
BT_DOCDIR	= $(PREFIX)/share/doc/bartoggle
install: all
	install -d $(DESTDIR)$(BT_LIBDIR)/bin $(DESTDIR)$(BT_LIBDIR)/scripts \
		$(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(UNITDIR) $(DESTDIR)$(BT_DOCDIR) \
		$(DESTDIR)$(SYSCONFDIR)/bartoggle
	install -m 755 $(RUN) $(AGENT) $(REPRO) $(DESTDIR)$(BT_LIBDIR)/bin/
	cp -R scripts/. $(DESTDIR)$(BT_LIBDIR)/scripts/
	ln -sfn ../lib/bartoggle/bin/bartoggle-run $(DESTDIR)$(PREFIX)/bin/bartoggle-run
	sed -e 's|@BINDIR@|$(PREFIX)/bin|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
		-e 's|@DOCDIR@|$(BT_DOCDIR)|g' contrib/systemd/bartoggle-soak@.service \
		>$(DESTDIR)$(UNITDIR)/bartoggle-soak@.service
	install -m 644 README.md $(DESTDIR)$(BT_DOCDIR)/
	install -m 644 configs/soak.ini $(DESTDIR)$(BT_DOCDIR)/soak.ini.example
	@echo "install: $(DESTDIR)$(PREFIX)/bin/bartoggle-run; unit $(DESTDIR)$(UNITDIR)/bartoggle-soak@.service;" \
		"a soak: $(SYSCONFDIR)/bartoggle/<name>.ini, then systemctl enable --now bartoggle-soak@<name>" >&2

clean:
	rm -rf $(O)

-include $(shell find $(O) -name '*.d' 2>/dev/null)
