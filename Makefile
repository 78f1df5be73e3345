# Thin wrapper over CMake. The README's two commands:
#   ./tools/install-deps.sh && make run     install what is missing, build (Release), run quickstart
#   make test                                build and pass every test
BUILD   ?= build
JOBS    ?= $(shell nproc)
SEED    ?=
SCENARIO ?= scenarios/quickstart.yaml

.PHONY: all build run test unit determinism asan bench bench-check bench-baseline test-scaling coverage clean

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

# The seed issue's stress and scaling suite: deterministic budgets and Catch2 benchmarks
# (tests/scaling/), then seed sweeps over every fault and chaos scenario (60 runs), then the
# performance regression check. About 7 minutes on 2 cores; longer sweeps: `shardsim sweep`
# directly (docs/scaling.md).
SCALING_SWEEP = scenarios/chaos.yaml:1..12 scenarios/faults_timeline.yaml:1..4 \
  scenarios/partition.yaml:1..4 scenarios/pause.yaml:1..4 scenarios/node_failure.yaml:1..4 \
  scenarios/rapid_recovery.yaml:1..4 scenarios/drain.yaml:1..4 scenarios/gateway_isolation.yaml:1..4 \
  scenarios/split_brain.yaml:1..4 scenarios/node_failure_during_handover.yaml:1..4 \
  scenarios/protocol_faults.yaml:1..4 scenarios/control_plane_outage.yaml:1..4 \
  scenarios/two_gateways.yaml:1..4
test-scaling: build
	./$(BUILD)/tests/shardsim_scaling --benchmark-samples 5
	@set -e; for s in $(SCALING_SWEEP); do \
	  ./$(BUILD)/shardsim sweep $${s%%:*} --seeds $${s##*:} --jobs $(JOBS) --out $(BUILD)/sweep-$$(basename $${s%%:*} .yaml).jsonl; \
	done
	$(MAKE) bench-check

# Performance regression check against the committed baseline (tools/bench/baseline.json): work
# counters exactly, CPU time as a ratio to a calibration loop, >= 20% worse fails (after two
# confirming re-measurements). Refresh the baseline on purpose with `make bench-baseline`.
bench-check: build
	./$(BUILD)/shardsim bench --baseline tools/bench/baseline.json --repeats 9

bench-baseline: build
	./$(BUILD)/shardsim bench --save-baseline tools/bench/baseline.json --repeats 9

# Line coverage (gcovr): the unit and scenario tests (full-length runs excluded) plus three fault
# scenarios; the cross-node logic is listed on its own.
COVERAGE_CROSS_NODE = engine/cluster/ engine/world/world_node_cluster.cpp
coverage:
	@cmake -S . -B build-cov -DCMAKE_BUILD_TYPE=Debug -DSHARDSIM_COVERAGE=ON >/dev/null
	@cmake --build build-cov -j $(JOBS) --target shardsim_tests shardsim
	find build-cov -name '*.gcda' -delete
	cd build-cov && ctest -j $(JOBS) -LE slow --output-on-failure
	for s in faults_timeline chaos load_migration; do ./build-cov/shardsim run scenarios/$$s.yaml >/dev/null; done
	gcovr -r . build-cov --filter engine/ --filter sim/ --print-summary --txt build-cov/coverage.txt \
	  --html-details build-cov/coverage.html >/dev/null
	@echo "cross-node logic:"; gcovr -r . build-cov $(foreach f,$(COVERAGE_CROSS_NODE),--filter $(f)) --txt -
	@echo "full report: build-cov/coverage.txt, build-cov/coverage.html"

clean:
	rm -rf $(BUILD) build-asan build-debug build-clang build-cov
