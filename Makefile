# One-command entry points. `make test` does all the set-up on a fresh Debian 12 machine.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
# Ninja is quieter and schedules better than Make; scripts/install-deps installs it.
GENERATOR := $(shell command -v ninja >/dev/null 2>&1 && echo Ninja || echo "Unix Makefiles")
# ccache keys on paths relative to the checkout, so other clones share its cache.
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1

.PHONY: deps configure build test run bench clean format format-check long-functions tsa test-sanitize

deps:
	@./scripts/install-deps

configure: deps
	@if [ -f $(BUILD_DIR)/CMakeCache.txt ] && ! grep -q "CMAKE_GENERATOR:INTERNAL=$(GENERATOR)$$" $(BUILD_DIR)/CMakeCache.txt; then \
	  echo "configure: $(BUILD_DIR) was made with another generator; starting it afresh"; rm -rf $(BUILD_DIR); fi
	@cmake -S . -B $(BUILD_DIR) -G "$(GENERATOR)" -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 600

# The unit tests (ctest label `unit`) under AddressSanitizer and UndefinedBehaviorSanitizer in a
# build directory of their own: any report (memory error, leak, undefined behaviour) fails the
# test. Suppressions of third-party noise: scripts/sanitizer-suppressions/. Every process writes
# its reports to a file in $(SANITIZE_DIR)/sanitizer-logs, so a report from a child process whose
# output a test swallows (a spawned server or function) fails the run too, printed at the end.
SANITIZE_DIR ?= build-asan
SANITIZER_SUPPRESSIONS := $(CURDIR)/scripts/sanitizer-suppressions
SANITIZER_LOGS = $(abspath $(SANITIZE_DIR))/sanitizer-logs
test-sanitize: deps
	@cmake -S . -B $(SANITIZE_DIR) -G "$(GENERATOR)" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDAT_SANITIZE=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(SANITIZE_DIR) -j $(JOBS) --target dat_unit_tests
	@rm -rf $(SANITIZER_LOGS) && mkdir -p $(SANITIZER_LOGS)
	@cd $(SANITIZE_DIR) && status=0 && \
	  ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:detect_stack_use_after_return=1:log_path=$(SANITIZER_LOGS)/asan \
	  LSAN_OPTIONS=suppressions=$(SANITIZER_SUPPRESSIONS)/lsan.supp:print_suppressions=0:log_path=$(SANITIZER_LOGS)/lsan \
	  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:suppressions=$(SANITIZER_SUPPRESSIONS)/ubsan.supp:log_path=$(SANITIZER_LOGS)/ubsan \
	  ctest -L '^unit$$' --output-on-failure -j $(JOBS) --timeout 600 || status=$$?; \
	  if [ -n "$$(ls -A $(SANITIZER_LOGS))" ]; then \
	    for f in $(SANITIZER_LOGS)/*; do echo "== $$f"; cat "$$f"; done; \
	    echo "test-sanitize: the sanitizer reports above fail the run"; exit 1; fi; \
	  exit $$status

# The seed's walkthrough end to end: localcloud + dispatch server + driver + twitter function.
# demo.py installs, configures and builds itself, quietly (one progress line while compiling).
run:
	@/usr/bin/python3 scripts/demo.py --build-dir $(BUILD_DIR) --build --generator "$(GENERATOR)" --jobs $(JOBS)

bench:
	@./scripts/install-deps --bench
	@cmake -S . -B $(BUILD_DIR) -G "$(GENERATOR)" -DCMAKE_BUILD_TYPE=Release -DDAT_BUILD_BENCH=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD_DIR) -j $(JOBS)
	@./bench/run-all $(BUILD_DIR)

format:
	@git ls-files '*.cc' '*.h' | xargs clang-format -i

# Fails, naming the files, when a tracked C++ file differs from what `make format` writes.
format-check: deps
	@git ls-files '*.cc' '*.h' | xargs clang-format --dry-run -Werror

# Fails, naming them, when a function in src/ (tests aside) is over 200 lines.
long-functions:
	@./scripts/long-functions src

# The locking annotations (GUARDED_BY, REQUIRES, ... of src/common/mutex.h) checked by clang's
# -Wthread-safety as errors, over every non-test .cc (parse only: it needs no build).
tsa: configure
	@./scripts/thread-safety-check --build-dir $(BUILD_DIR) --jobs 2

clean:
	@rm -rf $(BUILD_DIR)
