#!/usr/bin/env bash
# Server CPU per request under B's load (4 KiB ranged GETs of one media, 64 keep-alive
# connections, wrk -t1, 3 s), ours and nginx's in alternation, split into user and
# kernel time (/proc/<pid>/stat; nginx's workers summed), with each server's share of a
# core and wrk's. On two cores both servers get about one (wrk takes the other), so the
# req/s ratio follows the CPU-per-request ratio, and the split says where ours differs.
# nginx is configured as bench/run.sh configures it.
#
#   bench/cpu-vs-nginx.sh BIN [ROUNDS]   (default 3)
#
# Loopback only; each load is bounded in time.
set -euo pipefail
[ $# -ge 1 ] || { sed -n 2,10p "$0"; exit 2; }
bin=$1 rounds=${2:-3}
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "needs GNU time (apt-get install time)" >&2; exit 1; }
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
# shellcheck source=one-media.sh
source "$(dirname "$0")/one-media.sh"
# shellcheck source=ours.sh
source "$(dirname "$0")/ours.sh"
nginx_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
chmod 755 "$work" # nginx's workers run as another user
chmod 644 "$work/small.bin"
cat >"$work/nginx.conf" <<CONF
worker_processes auto; pid $work/nginx.pid; error_log $work/nginx.err;
events { worker_connections 10240; }
http {
  access_log off; sendfile on; tcp_nopush on; tcp_nodelay on; keepalive_requests 1000000;
  open_file_cache max=10000 inactive=60s; open_file_cache_valid 60s;
  server { listen 127.0.0.1:$nginx_port; root $work; }
}
CONF
hz=$(getconf CLK_TCK)
# "all user" clock ticks of the given processes.
ticks() { for p in "$@"; do awk '{print $14 + $15, $14}' "/proc/$p/stat"; done | awk '{t += $1; u += $2} END {print t, u}'; }
# measure LABEL URL PID...: one line, after a 1 s warm-up.
measure() {
  local label=$1 url=$2; shift 2
  wrk -t1 -c64 -d1s "${auth[@]}" -H 'Range: bytes=4096-8191' "$url" >/dev/null
  local t0 u0 t1 u1 n wrk_cpu
  read -r t0 u0 < <(ticks "$@")
  /usr/bin/env time -f "WRKCPU %U %S" -o "$work/wrk.time" \
    wrk -t1 -c64 -d3s "${auth[@]}" -H 'Range: bytes=4096-8191' "$url" >"$work/wrk.out"
  read -r t1 u1 < <(ticks "$@")
  n=$(awk '/requests in/{print $1}' "$work/wrk.out")
  wrk_cpu=$(awk '/WRKCPU/{printf "%d", ($2 + $3) * 100 / 3}' "$work/wrk.time")
  echo "$label: $((n / 3)) req/s, $(((t1 - t0) * 1000000000 / hz / n)) ns of CPU per request" \
    "($(((u1 - u0) * 1000000000 / hz / n)) user), $(((t1 - t0) * 100 / hz / 3))% of a core; wrk $wrk_cpu%"
}
for _ in $(seq 1 "$rounds"); do
  rm -rf "$work/data"
  start_ours "$bin" "$port" "$work/data" "$work/manifest.json"
  auth=(-H "Authorization: Bearer $(tenant_token "$port")")
  measure ours "http://127.0.0.1:$port/open-apis/drive/v1/medias/boxSmall/download" "$pid"
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
  "$NGINX" -c "$work/nginx.conf" -p "$work"
  for _ in $(seq 1 50); do [ -s "$work/nginx.pid" ] && break; sleep 0.1; done
  auth=()
  # shellcheck disable=SC2046
  measure nginx "http://127.0.0.1:$nginx_port/small.bin" $(pgrep -P "$(cat "$work/nginx.pid")")
  kill "$(cat "$work/nginx.pid")"; sleep 0.3
done
