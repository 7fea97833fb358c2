# memd — thin wrapper over CMake. The README's two commands:
#   make run    install what is missing, build, start memd on its default store
#   make test   install what is missing, build, run every test (ctest)
#   make install  memd, memctl, memd-mcp, man pages and the systemd user unit under
#                 $(DESTDIR)$(PREFIX) (default PREFIX /usr/local)
BUILD     ?= build
JOBS      ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_ARGS ?=
PREFIX    ?= /usr/local
DESTDIR   ?=
# Debian packages the build and the tests need (the last lines: the Python binding,
# its code generator and its tests; util-linux gives the tests unshare, setpriv,
# prlimit and nsenter; passwd useradd: test_access runs a client as another user;
# strace injects I/O errors in tests/integration/test_fault_eio.sh).
DEB_PKGS  = build-essential cmake pkg-config libczmq-dev libzmq3-dev liblmdb-dev \
            libprotobuf-c-dev protobuf-c-compiler libsqlite3-dev libjansson-dev \
            libpcre2-dev lmdb-utils procps jq \
            protobuf-compiler python3-zmq python3-protobuf python3-pytest util-linux passwd \
            strace
# The Node binding needs node and npm: Debian's nodejs and npm when the commands are
# missing (a machine may have another Node.js, e.g. one whose nodejs package includes npm).
NODE_PKGS = nodejs npm
NODE_DIR  = bindings/node
# Extra Debian packages only `make fuzz` needs (clang with libFuzzer and its sanitizer runtimes).
FUZZ_PKGS = clang libclang-rt-14-dev
FUZZ_SECONDS ?= 30
FUZZ_TARGETS = fuzz_request fuzz_tokenizer fuzz_config fuzz_redact fuzz_jsonl
# Extra Debian packages only `make check-valgrind` needs, and the tests it runs
# (every integration test; each memd they start runs under memcheck).
VALGRIND_PKGS = valgrind
VALGRIND_TESTS ?= ^integration_
SUDO      = $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps fuzz-deps valgrind-deps build run test install uninstall node-modules \
        check-sanitize check-valgrind fuzz bench bench-idle locomo locomo-model clean format

all: build

# Install only what is missing (dpkg-query is fast; apt-get only when needed).
# PKGS is the list to check: DEB_PKGS for deps, plus FUZZ_PKGS for fuzz-deps.
deps: PKGS = $(DEB_PKGS)
fuzz-deps: PKGS = $(DEB_PKGS) $(FUZZ_PKGS)
valgrind-deps: PKGS = $(DEB_PKGS) $(VALGRIND_PKGS)
deps fuzz-deps valgrind-deps:
	@missing=""; for p in $(PKGS); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	command -v node >/dev/null && command -v npm >/dev/null || missing="$$missing $(NODE_PKGS)"; \
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

test: build node-modules
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

# PREFIX/bin/{memd,memctl,memd-mcp}, PREFIX/share/man/man1/{memd,memctl}.1 and
# PREFIX/lib/systemd/user/memd.service (ExecStart=PREFIX/bin/memd), all under DESTDIR.
install: build
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD) --prefix "$(PREFIX)"

# Removes what the last `make install` installed: the files of its manifest, under the
# same DESTDIR (pass it again).
uninstall:
	@test -f $(BUILD)/install_manifest.txt || { echo "nothing installed from $(BUILD)"; exit 1; }
	sed 's|^|$(DESTDIR)|' $(BUILD)/install_manifest.txt | xargs -r -d '\n' rm -f --

# The Node binding's dependencies (zeromq ships prebuilt binaries; protobufjs is plain
# JavaScript), installed from package-lock.json only when node_modules is missing or older
# than the lock file. npm ci writes node_modules/.package-lock.json last.
node-modules: $(NODE_DIR)/node_modules/.package-lock.json
$(NODE_DIR)/node_modules/.package-lock.json: $(NODE_DIR)/package-lock.json $(NODE_DIR)/package.json | deps
	cd $(NODE_DIR) && npm ci --no-audit --no-fund
	@touch $@

# The whole suite again under AddressSanitizer + UndefinedBehaviorSanitizer
# (a report, or a leak at exit, fails the test that saw it).
check-sanitize: deps node-modules
	cmake -S . -B $(BUILD)-sanitize -DMEMD_SANITIZE=address,undefined -DCMAKE_BUILD_TYPE=Debug $(CMAKE_ARGS)
	cmake --build $(BUILD)-sanitize -j $(JOBS)
	cd $(BUILD)-sanitize && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

# The integration tests with every memd under valgrind's memcheck (MEMD_VALGRIND=1 in
# tests/integration/lib.sh: --leak-check=full, a log per memd; any report fails the
# test that started it). Suppressions, if ever needed: tests/integration/valgrind.supp.
check-valgrind: valgrind-deps build node-modules
	cd $(BUILD) && MEMD_VALGRIND=1 ctest --output-on-failure -j $(JOBS) -R '$(VALGRIND_TESTS)' $(CTEST_ARGS)

# libFuzzer targets (tests/fuzz; docs/fuzzing.md) built with clang under ASan + UBSan in
# $(BUILD)-fuzz, each run for FUZZ_SECONDS on a scratch copy of its seed corpus (the
# committed corpus is never written). A crash, leak or sanitizer report fails the
# target and leaves the input in $(BUILD)-fuzz/artifacts/.
fuzz: fuzz-deps
	CC=clang cmake -S . -B $(BUILD)-fuzz -DMEMD_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS)
	cmake --build $(BUILD)-fuzz -j $(JOBS) --target $(FUZZ_TARGETS)
	@set -e; mkdir -p $(BUILD)-fuzz/artifacts; for t in $(FUZZ_TARGETS); do \
	    rm -rf $(BUILD)-fuzz/corpus/$$t; mkdir -p $(BUILD)-fuzz/corpus/$$t; \
	    cp tests/fuzz/corpus/$$t/* $(BUILD)-fuzz/corpus/$$t/; \
	    echo "fuzz: $$t for $(FUZZ_SECONDS)s"; \
	    ./$(BUILD)-fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	        -artifact_prefix=$(BUILD)-fuzz/artifacts/$$t- $(FUZZ_ARGS) \
	        $(BUILD)-fuzz/corpus/$$t > $(BUILD)-fuzz/$$t.log 2>&1 \
	        || { tail -n 60 $(BUILD)-fuzz/$$t.log; echo "fuzz: $$t FAILED"; exit 1; }; \
	    grep -aE "^(#[0-9]+ +DONE|stat::number_of_executed_units|Done )" $(BUILD)-fuzz/$$t.log; \
	done

bench: build
	./$(BUILD)/bench_spine $(ARGS)

# What a hibernating memd costs (60 s untouched, 60 s with a status probe every 5 s).
bench-idle: build
	./$(BUILD)/bench_idle $(ARGS)

# Retrieval quality on LoCoMo (default data: ../shared/data/locomo-dev.json).
locomo: build
	./$(BUILD)/bench_locomo $(ARGS)

# The same with a real sentence model's embeddings (bench/embedder: Universal Sentence
# Encoder lite from npm, about two minutes of CPU on the dev file) instead of the hashed
# n-grams. ARGS go to both bench_locomo runs (data file, layout options).
EMBEDDER = bench/embedder
locomo-model: build $(EMBEDDER)/node_modules/.package-lock.json
	./$(BUILD)/bench_locomo --texts $(BUILD)/locomo-texts.jsonl $(ARGS)
	node $(EMBEDDER)/embed.js $(BUILD)/locomo-texts.jsonl $(BUILD)/locomo-texts.emb
	./$(BUILD)/bench_locomo --embeddings $(BUILD)/locomo-texts.emb $(ARGS)
$(EMBEDDER)/node_modules/.package-lock.json: $(EMBEDDER)/package-lock.json $(EMBEDDER)/package.json | deps
	cd $(EMBEDDER) && npm ci --no-audit --no-fund
	@touch $@

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD)
