# Latch — the two commands a newcomer needs: `make run` and `make test`.
# Each installs what is missing (Debian packages via apt-get, npm packages),
# then builds. See README.md.

.PHONY: run build test bench deps types package package-check package-deps

deps:
	@bash scripts/install-deps.sh

# The UI first: the desktop binary embeds ui/dist.
build: deps
	npm --prefix ui run build --silent
	cargo build --workspace

run: build
	./target/debug/latch-app

test:
	@bash scripts/install-deps.sh --test
	@bash scripts/test.sh

# Regenerates the UI's TypeScript IPC types from the Rust DTOs (ts-rs).
types:
	LATCH_WRITE_TS=1 cargo test -p latch-app --test typescript_types

# Release builds of Latch and of a bare Tauri window (bench/bare-window), then
# cold start to first paint and idle memory of each under Xvfb, with 100 and
# with 1,000 connections, as shipped and with the same WebKitGTK setting on
# both. Figures, not pass/fail; see
# bench/README.md. BENCH_RUNS=5 and BENCH_IDLE=5 (seconds) can be changed.
# Then the refresher: 10,000 connections scheduled (memory, idle wake-ups)
# and 1,000 refreshes due at once beside openid-client (bench/refresh.sh).
# Then the import: `latch import` of a 10,000-connection export file and
# `latch list --json` over them (bench/import.sh).
# Then IML: a spec's token response block evaluated, a 50 kB spec checked.
# Then OAuth 1.0a: 10,000 signed requests by Latch beside oauthlib's signer.
# Then the agent: `latch token` answered by `latch agent` beside one
# `secret-tool lookup` in the same private keyring (bench/agent.sh).
# Then the proxy: `latch proxy` beside nginx as a reverse proxy in front of
# the same local nginx upstream, under wrk; 1,000 idle clients; 1 GiB
# through it (bench/proxy.sh).
# Then teams: 1,000 team connections in OpenBao due within one minute across
# three machines running `latch agent`; OpenBao requests per refresh from its
# audit log and CPU per refresh, beside Latch's refresher on personal
# connections (bench/team.sh).
bench:
	@bash scripts/install-deps.sh --bench
	@bash bench/desktop.sh
	@bash bench/refresh.sh
	@bash bench/import.sh
	cargo run --release --locked -q -p latch-core --example iml_bench
	@bash bench/oauth1.sh
	@bash bench/agent.sh
	@bash bench/proxy.sh
	@bash bench/team.sh

# Release packages with the Tauri bundler: target/package/latch_VERSION_ARCH.deb
# (Debian 12) and latch-VERSION-1.ARCH.rpm, then their checks (lintian,
# desktop-file-validate, the unpacked binaries' --version, rpm -qlp). Not
# part of `make test`: the release build adds about 13 minutes from scratch
# on 2 cores (about 5 after a change to the engine).
# See README.md, "Install".
package: package-deps
	@bash scripts/package.sh
	@bash tests/package/check.sh

# The checks alone, on the packages already in target/package/.
package-check: package-deps
	@bash tests/package/check.sh

package-deps:
	@bash scripts/install-deps.sh --package
