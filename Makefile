# Thin wrapper over CMake. The README's two commands:
#   ./tools/install-deps.sh && make run     install what is missing, build (Release), run quickstart
#   make test                                build and pass every test
BUILD   ?= build
JOBS    ?= $(shell nproc)
SEED    ?=
SCENARIO ?= scenarios/quickstart.yaml

.PHONY: all build run test unit determinism asan bench clean

all: build

build:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

run: build
	./$(BUILD)/shardsim run $(SCENARIO) $(if $(SEED),--seed $(SEED))

# Every test: unit, scenario and CLI tests (ctest), then the cross-build determinism check.
test: unit determinism

unit: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# Same scenario + seed => same digest in Release (g++), Debug (g++) and Release (clang++).
determinism: build
	./tools/determinism-check.sh $(BUILD)

# Unit and scenario tests under AddressSanitizer + UndefinedBehaviorSanitizer.
asan:
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DSHARDSIM_SANITIZE=ON >/dev/null
	@cmake --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -j $(JOBS) -LE slow

bench: build
	./$(BUILD)/shardsim bench

clean:
	rm -rf $(BUILD) build-asan build-debug build-clang
