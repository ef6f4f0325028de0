# The front door. `make run` and `make test` are all a newcomer needs.
#   make run    bootstrap, release build, serve the demo stream (Ctrl-C stops)
#   make test   bootstrap, sanitized debug build (clang), the whole suite, and
#               the thread hand-offs under ThreadSanitizer
#   make tsan   the ThreadSanitizer build and its tests only
#   make bench  release build, the benchmarks in bench/ (prints figures)
#   make valgrind  a plain debug build, integration tests' server under valgrind
#   make fuzz   libFuzzer targets, FUZZ_SECONDS each (default 60; or FUZZ_RUNS
#               inputs, if sooner), FUZZ_JOBS at a time; grows and minimizes tests/fuzz/corpus (docs/reliability.md)
#   make install  the release build for PREFIX (/usr/local), installed under
#               DESTDIR (empty: this system) by CMake's install rules
#   make deb    the Debian packages, built from a copy of the tree with
#               packaging/debian and dpkg-buildpackage, into build/deb/
#   make clean

JOBS        ?= $(shell nproc)
PREFIX      ?= /usr/local
DESTDIR     ?=
LISTEN      ?= 127.0.0.1:8080
FUZZ_SECONDS ?= 60
FUZZ_JOBS    ?= $(JOBS)
FUZZ_RUNS    ?= -1
FUZZ_TARGETS ?=
DEMO_SOURCE ?= synthetic:size=640x360,fps=30,objects=3,seed=1
DEMO_PREDICTOR ?= motion

RELEASE := build/release
DEBUG   := build/debug
TSAN    := build/tsan
VALGRIND := build/valgrind
DEB     := build/deb

.PHONY: all run test bench fuzz clean bootstrap release debug tsan tsan-build valgrind \
	valgrind-build install deb

all: release

bootstrap:
	@scripts/bootstrap

release: bootstrap
	@cmake -S . -B $(RELEASE) -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS_RELEASE="-O2 -DNDEBUG" \
		-DFC_TESTS=OFF >/dev/null
	@cmake --build $(RELEASE) -j $(JOBS)

# The test build uses clang so the same build also makes the libFuzzer targets.
debug:
	@scripts/bootstrap --tests
	@CC=clang CXX=clang++ cmake -S . -B $(DEBUG) -DCMAKE_BUILD_TYPE=Debug -DFC_SANITIZE=ON -DFC_FUZZ=ON \
		-DFC_FAULT_INJECTION=ON >/dev/null
	@cmake --build $(DEBUG) -j $(JOBS)

run: release
	$(RELEASE)/framecast --listen $(LISTEN) --source '$(DEMO_SOURCE)' --predictor '$(DEMO_PREDICTOR)'

# ThreadSanitizer: the unit tests and the integration tests labelled
# `threads` (every thread hand-off), on a clang build of their own.
tsan-build:
	@scripts/bootstrap --tests
	@CC=clang CXX=clang++ cmake -S . -B $(TSAN) -DCMAKE_BUILD_TYPE=Debug -DFC_TSAN=ON \
		-DFC_FAULT_INJECTION=ON >/dev/null
	@cmake --build $(TSAN) -j $(JOBS)

tsan: tsan-build
	cd $(TSAN) && ctest --output-on-failure -j $(JOBS) --timeout 600 -L threads

# Memcheck needs a build without sanitizers: GCC, -O1 -g, the server and
# the client only. `make valgrind` runs the integration tests listed in
# tests/valgrind/run.sh with the server under valgrind (zero errors, zero
# definite leaks); `make test` runs a short pass of it (ctest: valgrind).
valgrind-build:
	@scripts/bootstrap --tests
	@cmake -S . -B $(VALGRIND) -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS_DEBUG="-O1 -g" \
		-DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" -DFC_TESTS=OFF >/dev/null
	@cmake --build $(VALGRIND) -j $(JOBS) --target framecast framecast-client

valgrind: valgrind-build
	tests/valgrind/run.sh $(VALGRIND)

# The release build (GCC) is built too, so its warnings fail CI, not `make run`
# (and the memory figures in test_limits.py come from it).
test: debug release tsan-build valgrind-build
	cd $(DEBUG) && ctest --output-on-failure -j $(JOBS) --timeout 600
	cd $(TSAN) && ctest --output-on-failure -j $(JOBS) --timeout 600 -L threads

# Prints figures; docs/benchmarks.md records them with these commands.
bench: release
	bench/run_all.sh $(RELEASE)
	bench/ingest_bench.py $(RELEASE)
	taskset -c 1 $(RELEASE)/motion-bench
	taskset -c 1 $(RELEASE)/render-bench
	bench/predict_bench.py $(RELEASE)
	bench/kit_bench.py $(RELEASE)
	bench/batch_bench.py $(RELEASE)
	bench/detector_bench.py $(RELEASE)
	bench/tls_bench.py $(RELEASE)
	bench/client_memory.py $(RELEASE)
	bench/deflate_bench.py $(RELEASE)
	bench/cluster_bench.py $(RELEASE)

# The release build, configured for PREFIX: the prefix is written into the
# unit and the configuration's path at configure time, so it is set there,
# not moved at install time (nothing is compiled again for it).
install: release
	@cmake -S . -B $(RELEASE) -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	DESTDIR=$(DESTDIR) cmake --install $(RELEASE)

# dpkg-buildpackage wants debian/ at the top and writes the packages next to
# the tree: both happen in a copy under build/deb/.
deb:
	@scripts/bootstrap --package
	rm -rf $(DEB) && mkdir -p $(DEB)/src
	tar --exclude=./build --exclude=./node_modules --exclude=./.git --exclude=./debian -cf - . | \
		tar -C $(DEB)/src -xf -
	cp -r packaging/debian $(DEB)/src/debian
	cd $(DEB)/src && DEB_BUILD_OPTIONS="parallel=$(JOBS) $(DEB_BUILD_OPTIONS)" dpkg-buildpackage -b -us -uc
	@ls -l $(DEB)/*.deb

# Each target fuzzes for FUZZ_SECONDS (or until FUZZ_RUNS inputs, if sooner)
# from its stored corpus, which is then minimized back into tests/fuzz/corpus (-merge=1): commit what it adds.
fuzz: debug
	tests/fuzz/run.sh -m -j $(FUZZ_JOBS) -r $(FUZZ_RUNS) $(DEBUG) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

clean:
	rm -rf build
