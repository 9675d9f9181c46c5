# spoor — top-level entry points.  `make run` and `make test` are the two
# commands of README.md; both install what is missing first (as root, with
# apt-get), configure CMake and build.

BUILD      ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
FUZZ_BUILD ?= build-fuzz
JOBS       ?= $(shell nproc)
DATA       ?= ./data
FUZZ_SECONDS ?= 60

DEPS_BUILD := cmake make gcc pkg-config liburing-dev liblz4-dev libxxhash-dev \
              libmicrohttpd-dev libcriterion-dev libcurl4-openssl-dev
DEPS_TEST  := clang libclang-rt-14-dev curl

.PHONY: all deps deps-test build run test asan tsan fuzz-build fuzz unit browser bench bench-quick bench-storage bench-ingest format clean

all: build

# Installs the Debian packages that are missing.  Needs root (or sudo) only
# when something is missing.
define install_missing
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null \
	    || { echo "could not install:$$missing" >&2; exit 1; }; \
	fi
endef

deps:
	$(call install_missing,$(DEPS_BUILD))

deps-test: deps
	$(call install_missing,$(DEPS_TEST))

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DSPOOR_TESTS=OFF >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

# Builds and starts the server with a data directory under ./data.
run: build
	@if [ -x $(BUILD)/spoord ]; then exec $(BUILD)/spoord --data $(DATA); \
	else exec $(BUILD)/bench/storage_append --data $(DATA)/bench; fi

asan: deps-test
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Asan >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)

fuzz-build: deps-test
	CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSPOOR_FUZZ=ON -DSPOOR_TESTS=ON >/dev/null
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz_all

# Each fuzz target runs FUZZ_SECONDS on its seed corpus (a copy: the seeds in
# git stay as they are).
fuzz: fuzz-build
	@set -e; for f in $(FUZZ_BUILD)/tests/fuzz/fuzz_*; do \
	  [ -x "$$f" ] || continue; n=$$(basename $$f); \
	  rm -rf $(FUZZ_BUILD)/corpus/$$n; mkdir -p $(FUZZ_BUILD)/corpus/$$n; \
	  cp tests/fuzz/corpus/$${n#fuzz_}/* $(FUZZ_BUILD)/corpus/$$n/ 2>/dev/null || true; \
	  echo "fuzz: $$n for $(FUZZ_SECONDS)s"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 -rss_limit_mb=2048 \
	      $(FUZZ_BUILD)/corpus/$$n 2>$(FUZZ_BUILD)/$$n.log \
	    || { tail -50 $(FUZZ_BUILD)/$$n.log; exit 1; }; \
	  grep -E '^stat::number_of_executed_units' $(FUZZ_BUILD)/$$n.log || true; \
	done

# The Criterion suites, sanitizer build.
unit: asan
	@set -e; rc=0; for t in $(ASAN_BUILD)/tests/test_*; do \
	  echo "== $$t"; $$t --jobs=$(JOBS) || rc=1; done; exit $$rc

# The threaded paths under ThreadSanitizer: real programs, since Criterion
# cannot start under TSan (tests/tsan.sh says what runs).
tsan: deps-test
	cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=Tsan -DSPOOR_TESTS=OFF >/dev/null
	cmake --build $(TSAN_BUILD) -j $(JOBS) --target spoord storage_append loadgen
	tests/tsan.sh $(TSAN_BUILD)

# The browser tests (tests/browser): headless chromium against the ASan
# spoord; screenshots are kept under $(BUILD)/browser-artifacts.
browser: asan
	SPOORD=$(abspath $(ASAN_BUILD))/spoord SPOOR_ARTIFACTS=$(abspath $(BUILD))/browser-artifacts \
	  tests/browser/run.sh

# README's test command: fuzzers, the TSan run, every Criterion suite in the
# ASan+UBSan build, then the browser tests.
test: fuzz tsan unit browser

# spoor side by side with ClickHouse, PostgreSQL and DuckDB on the same
# generated data (bench/suite.sh; installs the peers itself with apt-get and
# npm the first time).  Writes bench/results/<date>-<host>[-quick].{json,md}
# and the plots (.svg).
bench: build
	bench/suite.sh --no-build --build $(BUILD)

# The same in under 3 minutes: 1 M events, 3 runs, a short ingest sweep.
bench-quick: build
	bench/suite.sh --quick --no-build --build $(BUILD)

bench-storage: build
	$(BUILD)/bench/storage_append

# spoord under loadgen (batch sizes, fsync modes) and nginx's 204 as the ceiling.
bench-ingest: build
	BUILD=$(abspath $(BUILD)) bench/ingest.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) $(FUZZ_BUILD)
