# Latch — the two commands a newcomer needs: `make run` and `make test`.
# Each installs what is missing (Debian packages via apt-get, npm packages
# for the test providers), then builds.

.PHONY: run build test bench deps

deps:
	@bash scripts/install-deps.sh

build: deps
	cargo build --workspace

run: build
	@echo
	@echo "Latch's command line is ready: target/debug/latch"
	@./target/debug/latch --help

test:
	@bash scripts/install-deps.sh --test
	@bash scripts/test.sh

bench: deps
	@echo "No benchmarks yet."
