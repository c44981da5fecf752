#!/usr/bin/env bash
# Server CPU time per request under B's load (4 KiB ranged GETs of one media, 64
# keep-alive connections, wrk -t1), for two builds of ours in alternation: the figure
# that a change to the request path moves, and steadier on a noisy machine than req/s
# (both are printed). Used to measure each change of #16's request-path work.
#
#   bench/cpu-per-request.sh OLD_BIN NEW_BIN [ROUNDS]   (default 4 rounds of 3 × 3 s each)
#
# Loopback only; each load is bounded in time.
set -euo pipefail
[ $# -ge 2 ] || { sed -n 2,9p "$0"; exit 2; }
old=$1 new=$2 rounds=${3:-4}
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 1; }
# shellcheck source=one-media.sh
source "$(dirname "$0")/one-media.sh"
# shellcheck source=ours.sh
source "$(dirname "$0")/ours.sh"
base=http://127.0.0.1:$port

# Clock ticks (user + system) the process has used, all its threads.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

# measure LABEL BIN: three 3 s loads, one line each: "LABEL req/s ns/request".
measure() {
  rm -rf "$work/data"
  start_ours "$2" "$port" "$work/data" "$work/manifest.json"
  local token url
  token=$(tenant_token "$port")
  url=$base/open-apis/drive/v1/medias/boxSmall/download
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' -r 4096-8191 -H "Authorization: Bearer $token" "$url")
  [ "$code" = 206 ] || { echo "$1 answers $code" >&2; exit 1; }
  wrk -t1 -c64 -d1s -H "Authorization: Bearer $token" -H 'Range: bytes=4096-8191' "$url" >/dev/null
  for _ in 1 2 3; do
    local t0 t1 n
    t0=$(ticks "$pid")
    n=$(wrk -t1 -c64 -d3s -H "Authorization: Bearer $token" -H 'Range: bytes=4096-8191' "$url" |
      awk '/requests in/{print $1}')
    t1=$(ticks "$pid")
    echo "$1 $((n / 3)) $(((t1 - t0) * 1000000000 / hz / n))"
  done
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
}

for _ in $(seq 1 "$rounds"); do
  measure old "$old"
  measure new "$new"
done >"$work/lines"
for who in old new; do
  awk -v w="$who" '$1 == w {print $2, $3}' "$work/lines" | sort -k2 -n | awk -v w="$who" '
    {rps[NR] = $1; ns[NR] = $2}
    END {m = int((NR + 1) / 2); printf "%s: median %d ns of server CPU per request (min %d, max %d), %d req/s\n", w, ns[m], ns[1], ns[NR], rps[m]}'
done
