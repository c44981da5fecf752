#!/usr/bin/env bash
# The one test command (README and .ci/run call it). It installs what the tests need,
# then runs every suite: lints, the Rust tests (unit, conformance on every backend,
# end-to-end over real HTTP, curl, 10 000 connections, 20 SIGKILL trials, three replicas
# on PostgreSQL + S3 + Redis behind nginx), the official Python and Node SDKs,
# schemathesis and Chromium against the real binary, and every fuzz target for 20 s.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*"; }

# --- tools the suites call -------------------------------------------------------------
missing=()
command -v curl >/dev/null || missing+=(curl)
command -v python3 >/dev/null || missing+=(python3 python3-venv)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
command -v chromium >/dev/null || missing+=(chromium)
command -v redis-server >/dev/null || missing+=(redis-server)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v psql >/dev/null || missing+=(postgresql-client)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
# An S3 server that checks SigV4 signatures, built once and kept in ~/.cargo/bin (0.17
# needs a newer Rust than 1.95).
if ! command -v s3s-fs >/dev/null; then
  log "cargo install s3s-fs 0.14.1 (a few minutes, once)"
  cargo install s3s-fs --version 0.14.1 --features binary --locked
fi

# --- lints -----------------------------------------------------------------------------
log "cargo fmt --check"
cargo fmt --all --check
log "cargo clippy"
cargo clippy --locked --workspace --all-targets -- -D warnings
log "no import cycle of more than 3 files in the server and store crates"
python3 scripts/module-cycles.py crates/server/src 3
python3 scripts/module-cycles.py crates/store/src 3
log "the client crate as crates.io would take it: rustdoc without warnings, cargo package"
RUSTDOCFLAGS="-D warnings" cargo doc --locked --no-deps -p feishu-media-proto -p feishu-media-client
# Packaged together: the client needs the proto crate, which is published first.
cargo package --locked -p feishu-media-proto -p feishu-media-client

# --- Rust suites -----------------------------------------------------------------------
log "cargo test"
cargo build --locked --workspace --bins
cargo test --locked --workspace
log "the end-to-end download, upload, link, token and limit tests on PostgreSQL + S3 + Redis"
target/debug/with-engines -- cargo test --locked -p feishu-media-server --test e2e -- \
  download:: ranges:: uploads:: tmp_urls:: limits:: tokens:: auth:: documents:: oauth:: \
  front::plain_downloads_answer_what_the_general_way_answers

# --- the official SDKs, pointed at the real binary --------------------------------------
log "official SDKs"
compat/run.sh target/debug/feishu-media

# --- fuzzing: every target for 20 s (long runs: scripts/fuzz.sh SECONDS) -----------------
log "fuzz targets, 20 s each"
scripts/fuzz.sh 20

# --- the benchmark harness, in its short smoke mode (the full run is bench/run.sh) -------
log "bench/run.sh --quick"
bench/run.sh --quick
