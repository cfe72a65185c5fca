# circuit — see README.md. Every target installs what it needs first.
BUILD ?= build
MOUNT ?= /circuit
NAME  ?= $(shell hostname | tr -c 'A-Za-z0-9._\n-' '-')
JOBS  ?= $(shell nproc 2>/dev/null || echo 2)
LOG   ?= $(BUILD)/circuitd.log

.PHONY: all deps configure build run stop test test-asan bench install clean

all: build

deps:
	@sh tools/install-deps

configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

build: configure
	@cmake --build $(BUILD) -j$(JOBS)

# Starts circuitd in the background, mounted at $(MOUNT), and says how to try it.
run: configure
	@cmake --build $(BUILD) -j$(JOBS) --target circuitd
	@sh tools/run-daemon $(BUILD)/circuitd $(NAME) $(MOUNT) $(LOG)

stop:
	@sh tools/stop-daemon $(MOUNT)

test: build
	@cd $(BUILD) && ctest --output-on-failure --timeout 300

# The same suite on an AddressSanitizer build (its own build directory).
test-asan: deps
	@cmake -S . -B $(BUILD)-asan -DCMAKE_BUILD_TYPE=Debug -DCIRCUIT_ASAN=ON >/dev/null
	@cmake --build $(BUILD)-asan -j$(JOBS) --target circuitd circuit runtime_test wire_fuzz_test hostile_peer libcircuit_test fail_accept circuit_example_channels circuit_example_roundtrip circuit_example_mapreduce circuit_example_supervisor circuit_example_service
	@cd $(BUILD)-asan && ctest --output-on-failure --timeout 600

bench: build
	@cmake --build $(BUILD) -j$(JOBS) --target benchmarks
	@sh bench/run $(BUILD)

# circuitd, circuit, libcircuit (headers, library, CMake package, pkg-config
# file) and the man pages, under $(PREFIX).
PREFIX ?= /usr/local
install: build
	@cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD)
