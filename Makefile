# Thin wrapper over CMake: the two commands a new user needs (make demo, make test) and a few
# conveniences. Every rule here installs what is missing first, then delegates to CMake/ctest.
# Build logic lives in CMakeLists.txt, not here.

# Debian 12 packages the build, the tests and the bench need.
PACKAGES := build-essential cmake pkg-config clang libclang-rt-14-dev \
            libh2o-evloop-dev libck-dev libxxhash-dev libjemalloc-dev libmsgpack-dev libssl-dev \
            libcurl4-openssl-dev libnghttp2-dev nghttp2-client curl tzdata
BENCH_PACKAGES := wrk postgresql gnuplot-nox

JOBS ?= $(shell nproc 2>/dev/null || echo 2)
BUILD ?= build
CMAKE_FLAGS ?=
PORT ?= 8080

.PHONY: all deps deps-bench build build-asan build-tsan demo test test-fast bench bench-full clean help

all: build

help:
	@echo "make demo       build, generate a demo feed and serve it on 127.0.0.1:$(PORT)"
	@echo "make test       build (release, ASan+UBSan, TSan) and run every test through ctest"
	@echo "make test-fast  release build and its tests only"
	@echo "make bench      quick benchmark suite (see docs/performance.md)"
	@echo "make clean      remove build trees"

# Installs missing packages with apt-get when run as root; otherwise prints the one line to run.
deps:
	@PKGS="$(PACKAGES)" sh tests/install-deps.sh
deps-bench:
	@PKGS="$(PACKAGES) $(BENCH_PACKAGES)" sh tests/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

build-asan: deps
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFS_ASAN=ON >/dev/null
	@cmake --build build-asan -j $(JOBS)

build-tsan: deps
	@cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFS_TSAN=ON >/dev/null
	@cmake --build build-tsan -j $(JOBS)

demo: build
	@sh tests/demo.sh $(BUILD) $(PORT)

# Every test, in three builds: release (all), ASan+UBSan (all), TSan (the concurrency tests).
test: build build-asan build-tsan
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	cd build-asan && ctest --output-on-failure -j $(JOBS)
	cd build-tsan && ctest --output-on-failure -L concurrency

test-fast: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

clean:
	rm -rf build build-asan build-tsan
