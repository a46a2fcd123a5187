# Thin wrapper over CMake: the two commands a new user needs (make demo, make test) and a few
# conveniences. Every rule here installs what is missing first, then delegates to CMake/ctest.
# Build logic lives in CMakeLists.txt, not here.

# Debian 12 packages the build, the tests and the bench need (python3-yaml: docs/openapi.yaml is
# embedded as JSON; nodejs, npm: the contract tests fetch their npm tools, tests/contract/;
# python3: the oracle of tests/load/; chromium: the web page's browser test drives it headless,
# tests/browser/; systemd, prometheus: systemd-analyze and promtool check deploy/, tests/deploy/;
# nats-server, libnats-dev: replicas over NATS JetStream, --nats, docs/replicas.md, tests/replicas/).
PACKAGES := build-essential cmake pkg-config clang libclang-rt-14-dev \
            libh2o-evloop-dev libck-dev libxxhash-dev libjemalloc-dev libmsgpack-dev libssl-dev \
            libcurl4-openssl-dev libnghttp2-dev nghttp2-client curl openssl tzdata cppcheck clang-tidy haproxy \
            python3-yaml nodejs npm python3 chromium systemd prometheus \
            nats-server libnats-dev
BENCH_PACKAGES := wrk postgresql gnuplot-nox h2o python3

JOBS ?= $(shell nproc 2>/dev/null || echo 2)
BUILD ?= build
CMAKE_FLAGS ?=
PORT ?= 8080

.PHONY: all deps deps-bench build install build-asan build-tsan build-fuzz demo test test-fast fuzz bench bench-full clean help

all: build

help:
	@echo "make demo       build, generate a demo feed and serve it on 127.0.0.1:$(PORT)"
	@echo "make test       build (release, ASan+UBSan, TSan) and run every test through ctest"
	@echo "make test-fast  release build and its tests only"
	@echo "make lint       cppcheck and clang-tidy over the C sources (part of make test)"
	@echo "make fuzz       run each fuzz target FUZZ_SECONDS (60); FUZZ_MERGE=1 keeps new inputs"
	@echo "make bench      quick benchmark suite (see docs/performance.md)"
	@echo "make replicas   the replicas failure test, longer (NATS cluster, HAProxy; docs/replicas.md)"
	@echo "make install    install the binaries into PREFIX/bin (/usr/local/bin)"
	@echo "make clean      remove build trees"

# Installs missing packages with apt-get when run as root; otherwise prints the one line to run.
deps:
	@PKGS="$(PACKAGES)" sh tests/install-deps.sh
deps-bench:
	@PKGS="$(PACKAGES) $(BENCH_PACKAGES)" sh tests/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DCMAKE_EXPORT_COMPILE_COMMANDS=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# The binaries into $(PREFIX)/bin, where deploy/flightsearch.service starts them (deploy/README.md).
PREFIX ?= /usr/local
install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

build-asan: deps
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFS_ASAN=ON >/dev/null
	@cmake --build build-asan -j $(JOBS)

build-tsan: deps
	@cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFS_TSAN=ON >/dev/null
	@cmake --build build-tsan -j $(JOBS)

# The libFuzzer targets of tests/fuzz/: clang, ASan+UBSan, no jemalloc (tests/fuzz/CMakeLists.txt).
build-fuzz: deps
	@CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFS_ASAN=ON -DFS_FUZZ=ON >/dev/null
	@cmake --build build-fuzz -j $(JOBS) --target fuzz_targets

demo: build
	@sh tests/demo.sh $(BUILD) $(PORT)

# Every test, in three builds: release (all), ASan+UBSan (all), TSan (the concurrency tests); then
# each fuzz target for 10 s (its corpus is also replayed by ctest in the first two).
test: build build-asan build-tsan build-fuzz lint
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	cd build-asan && ctest --output-on-failure -j $(JOBS)
	cd build-tsan && ctest --output-on-failure -L concurrency
	FUZZ_MERGE=0 sh tests/fuzz/run.sh all 10

test-fast: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# Static analysis (tests/lint/run.sh): cppcheck and clang-tidy over index/, loaders/, src/,
# bench/gen/ and bench/load/ with the checked-in .clang-tidy and tests/lint/cppcheck-suppressions.txt;
# any finding fails. clang-tidy reads $(BUILD)/compile_commands.json, which the build rule exports.
.PHONY: lint
lint: build
	@sh tests/lint/run.sh $(BUILD)

# Coverage-guided fuzzing (tests/fuzz/run.sh): every target FUZZ_SECONDS, then execs/s and coverage.
FUZZ_SECONDS ?= 60
FUZZ_MERGE ?= 0
fuzz: build-fuzz
	@FUZZ_MERGE=$(FUZZ_MERGE) sh tests/fuzz/run.sh all $(FUZZ_SECONDS)

clean:
	rm -rf build build-asan build-tsan build-fuzz

# The bench (docs/performance.md): server on core 0, load generator on core 1, against the floor
# (h2o serving static files) and PostgreSQL in the same run. Results: bench/results/.
# quick: small data, every mix, under 3 minutes; full: medium data, longer runs (~20 minutes).
# Extra flags for bench/run.py: make bench BENCH_ARGS="--skip pg --mixes direct_1day".
PYTHON ?= python3
BENCH_ARGS ?=
bench: deps-bench build
	@$(PYTHON) bench/run.py --suite quick --build $(BUILD) $(BENCH_ARGS)

bench-full: deps-bench build
	@$(PYTHON) bench/run.py --suite full --build $(BUILD) $(BENCH_ARGS)

# Overload and soak (tests/overload/run.sh, tests/soak/run.sh; figures in their RESULTS.md).
# overload: 10x the saturation rate, open loop, for OVERLOAD_SECONDS; soak: SOAK_SECONDS of
# searches and feed pushes with graceful restarts. Short forms run in make test (ctest labels
# "overload" and "soak").
OVERLOAD_SECONDS ?= 60
SOAK_SECONDS ?= 600
.PHONY: overload soak
overload: build
	OVERLOAD_SECONDS=$(OVERLOAD_SECONDS) tests/overload/run.sh $(BUILD)

soak: build
	SOAK_SECONDS=$(SOAK_SECONDS) tests/soak/run.sh $(BUILD)

# Replicas over NATS JetStream (tests/replicas/run.py, docs/replicas.md): the failure test with
# REPLICAS_ROUNDS rounds of pushes per phase (replicas_short in make test runs 1).
REPLICAS_ROUNDS ?= 20
.PHONY: replicas
replicas: build
	REPLICAS_ROUNDS=$(REPLICAS_ROUNDS) python3 tests/replicas/run.py $(BUILD)

# Hostile traffic (tests/abuse/run.sh): HTTP/2 Rapid Reset directly and through HAProxy
# (deploy/haproxy.cfg), slowloris, oversized headers and bodies, idle connections up to the
# descriptor limit, clients that never read. ABUSE_SECONDS per measurement (about 8 minutes at
# 20); figures in tests/abuse/RESULTS.md, deployment notes in deploy/README.md.
ABUSE_SECONDS ?= 20
.PHONY: abuse
abuse: build
	@PKGS="haproxy" sh tests/install-deps.sh
	bash tests/abuse/run.sh --build $(BUILD) --seconds $(ABUSE_SECONDS)
