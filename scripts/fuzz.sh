#!/usr/bin/env bash
# Runs every fuzz target (fuzz/fuzz_targets) for SECONDS each (default 20), starting
# from the seeds in fuzz/seeds; any crash fails the run and leaves its input in
# fuzz/artifacts/<target>/. Installs cargo-fuzz once (cached in ~/.cargo/bin). The
# stable toolchain runs it with RUSTC_BOOTSTRAP=1.
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#   scripts/fuzz.sh 600 upload_form     # a long run of one target
#   RUNS=10000000 scripts/fuzz.sh 0     # each target for 10^7 executions instead
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
shift || true
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
cd fuzz
targets=("$@")
((${#targets[@]})) || mapfile -t targets < <(cargo fuzz list)
# cargo-fuzz has no --locked: check first that fuzz/Cargo.lock needs no change.
cargo metadata --locked --format-version 1 >/dev/null
cargo fuzz build
limit=(-max_total_time="$secs")
[ -n "${RUNS:-}" ] && limit=(-runs="$RUNS")
for t in "${targets[@]}"; do
  work=$(mktemp -d)
  log=$(mktemp)
  echo "==> fuzz $t (${RUNS:-${secs}s})"
  # New inputs go to a scratch corpus; the committed seeds are only read.
  status=0
  cargo fuzz run "$t" "$work" "seeds/$t" -- "${limit[@]}" -print_final_stats=1 >"$log" 2>&1 || status=$?
  grep -E 'stat::number_of_executed_units|stat::average_exec_per_sec|ERROR|SUMMARY' "$log" || true
  rm -rf "$work"
  if [ "$status" -ne 0 ]; then
    tail -n 40 "$log"
    echo "fuzz target $t failed; the input is in fuzz/artifacts/$t/"
    exit 1
  fi
  rm -f "$log"
done
