#!/usr/bin/env bash
# B100k's load by hand, for several builds of ours in alternation: whole GETs of 1–4 KiB
# media drawn from a shuffled list of 100 000 (bench/catalogue.py, bench/random-paths.lua),
# 64 connections, wrk -t1. Each build keeps a data directory of its own across rounds
# and is restarted every round (its start-up sweep reads the rows back); the first 5 s
# warm the caches, the next 5 s are measured: req/s and the server's CPU per request
# (all and user, /proc/<pid>/stat). Steadier than bench/run.sh's B100k for telling two
# commits apart on a noisy machine; used for #16's many-files work.
#
#   bench/catalogue-per-build.sh BIN... [-- ROUNDS]   (default 3 rounds)
#
# Loopback only; each load is bounded in time. The catalogue (~400 MB) is made once
# in a temporary directory and removed at exit.
set -euo pipefail
bins=()
rounds=3
while [ $# -gt 0 ]; do
  case $1 in
    --) rounds=$2; shift 2 ;;
    *) bins+=("$1"); shift ;;
  esac
done
[ ${#bins[@]} -ge 1 ] || { sed -n 2,13p "$0"; exit 2; }
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 1; }
cd "$(dirname "$0")/.."
# shellcheck source=ours.sh
source bench/ours.sh
work=$(mktemp -d /tmp/feishu-media-catalogue.XXXXXX)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
python3 bench/catalogue.py "$work" 100000 1000
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base=http://127.0.0.1:$port
hz=$(getconf CLK_TCK)
load() {
  wrk -t1 -c64 -d5s -s bench/random-paths.lua -H "Authorization: Bearer $1" "$base" -- "$work/paths-ours-all.txt" |
    awk '/requests in/{print $1}'
}
for r in $(seq 1 "$rounds"); do
  for i in "${!bins[@]}"; do
    start_ours "${bins[$i]}" "$port" "$work/data-$i" "$work/catalogue.json"
    token=$(tenant_token "$port")
    load "$token" >/dev/null
    read -r t0 u0 < <(awk '{print $14 + $15, $14}' "/proc/$pid/stat")
    n=$(load "$token")
    read -r t1 u1 < <(awk '{print $14 + $15, $14}' "/proc/$pid/stat")
    echo "${bins[$i]} round $r: $((n / 5)) req/s, $(((t1 - t0) * 1000000000 / hz / n)) ns of CPU per request ($(((u1 - u0) * 1000000000 / hz / n)) user)"
    kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
  done
done
