# memd — thin wrapper over CMake. The README's two commands:
#   make run    install what is missing, build, start memd on its default store
#   make test   install what is missing, build, run every test (ctest)
BUILD     ?= build
JOBS      ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_ARGS ?=
# Debian packages the build and the tests need.
DEB_PKGS  = build-essential cmake pkg-config libczmq-dev libzmq3-dev liblmdb-dev \
            libprotobuf-c-dev protobuf-c-compiler libsqlite3-dev libjansson-dev \
            lmdb-utils procps
SUDO      = $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps build run test check-sanitize bench clean format

all: build

# Install only what is missing (dpkg-query is fast; apt-get only when needed).
deps:
	@missing=""; for p in $(DEB_PKGS); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    echo "installing:$$missing"; \
	    $(SUDO) apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

$(BUILD)/Makefile: CMakeLists.txt
	cmake -S . -B $(BUILD) $(CMAKE_ARGS)

build: deps $(BUILD)/Makefile
	cmake --build $(BUILD) -j $(JOBS)

run: build
	./$(BUILD)/memd $(ARGS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

# The whole suite again under AddressSanitizer + UndefinedBehaviorSanitizer
# (a report, or a leak at exit, fails the test that saw it).
check-sanitize: deps
	cmake -S . -B $(BUILD)-sanitize -DMEMD_SANITIZE=address,undefined -DCMAKE_BUILD_TYPE=Debug $(CMAKE_ARGS)
	cmake --build $(BUILD)-sanitize -j $(JOBS)
	cd $(BUILD)-sanitize && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

bench: build
	./$(BUILD)/bench_spine $(ARGS)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD)
