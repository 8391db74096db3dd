# schemahost: the PostgreSQL extension (PGXS) plus the orchestration of the
# whole project. The daemon is built by CMake (CMakeLists.txt); this Makefile
# only calls it.
#
#   make run     everything on a fresh machine, ending at a psql prompt
#   make test    every suite; ends with "N passed, N failed"
#   make stop    stop the `make run` server and daemon

EXTVERSION := $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" sql/schemahost.control)
PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
# On a fresh machine there is no PGXS yet: install the dependencies before
# anything else, since every rule below needs them.
ifeq ($(wildcard $(PGXS)),)
$(info schemahost: PGXS not found, installing dependencies first)
$(shell scripts/install-deps.sh >&2)
PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
endif

MODULE_big = schemahost
MODULEDIR = extension
OBJS = $(patsubst %.cpp,%.o,$(sort $(wildcard extension/*.cpp)))
# The install script of each released version is the concatenation of its
# parts in sql/<version>/, in file-name order. Every directory of sql/ named
# like a version (1.2.3) gets one. A version without a directory (such as
# default_version between releases) has no install script of its own:
# CREATE EXTENSION installs the newest one below it and then runs the upgrade
# scripts sql/schemahost--<from>--<to>.sql (PostgreSQL's update path).
SQL_VERSIONS := $(sort $(shell find sql -mindepth 1 -maxdepth 1 -type d \
	-regextype posix-extended -regex 'sql/[0-9]+\.[0-9]+\.[0-9]+' -printf '%f\n'))
DATA_built = $(patsubst %,build/sql/schemahost--%.sql,$(SQL_VERSIONS))
DATA = sql/schemahost.control $(wildcard sql/schemahost--*--*.sql)

SCHEMAHOST_CXXFLAGS = -std=c++17 -Wall -Wextra -Wno-unused-parameter \
	-Wno-missing-field-initializers -Wno-cast-function-type -Wno-register \
	-fvisibility=hidden
ifneq ($(WERROR),0)
SCHEMAHOST_CXXFLAGS += -Werror
endif
PG_CPPFLAGS = -Iextension -DSCHEMAHOST_VERSION='"$(EXTVERSION)"'
PG_CXXFLAGS = $(SCHEMAHOST_CXXFLAGS)
SHLIB_LINK = -lstdc++

include $(PGXS)

# PGXS also compiles every .cpp to LLVM bitcode with clang (Debian's server is
# built with LLVM); clang needs the same language flags, and -Wno-register for
# the `register` keyword in PostgreSQL's headers.
COMPILE.cxx.bc += $(SCHEMAHOST_CXXFLAGS)

# The directory is a prerequisite too: adding, removing or renaming a part
# changes its mtime, so the script is rebuilt.
define install_script_rule
build/sql/schemahost--$(1).sql: sql/$(1) $$(sort $$(wildcard sql/$(1)/*.sql))
	@mkdir -p $$(dir $$@)
	cat $$(filter %.sql,$$^) > $$@
endef
$(foreach v,$(SQL_VERSIONS),$(eval $(call install_script_rule,$(v))))

# Released scripts never change (sql/released.sha256); this says which did.
check-released:
	@scripts/check-released.sh

$(OBJS): $(wildcard extension/*.hpp) sql/schemahost.control

.PHONY: deps daemon install-ext run stop test test-regress test-pgtap test-unit \
	test-integration format format-check check-released

SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
RUN_DIR := $(CURDIR)/.run
HARNESS := /usr/bin/python3 scripts/pgcluster.py

deps:
	@scripts/install-deps.sh

daemon:
	cmake -S . -B build/daemon -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DSCHEMAHOST_WERROR=$(if $(filter 0,$(WERROR)),OFF,ON) >/dev/null
	cmake --build build/daemon -j2

all: daemon

# Installing into the server's directories needs root.
install-ext: all
	$(SUDO) $(MAKE) install

run: deps install-ext
	@scripts/run.sh up

stop:
	@scripts/run.sh down

test: deps install-ext
	@scripts/run-tests.sh

test-regress test-pgtap test-unit test-integration: deps install-ext
	@scripts/run-tests.sh $(patsubst test-%,%,$@)

# Every C++ file, in the style of .clang-format; format-check changes
# nothing and fails on the first file that is not.
CXX_SOURCES = $(sort $(wildcard extension/*.cpp extension/*.hpp daemon/*.cpp daemon/*.hpp \
	daemon/*/*.cpp daemon/*/*.hpp test/unit/*.cpp test/unit/*.hpp bench/*.c))

format:
	clang-format -i $(CXX_SOURCES)

format-check:
	clang-format --dry-run --Werror $(CXX_SOURCES)

clean: clean-build
clean-build:
	rm -rf build
