#!/usr/bin/env bash
# Benchmarks of feishu-media against its anchors, measured in one run with the contenders
# alternating (these machines are noisy: compare, don't clock).
#
#   bench/run.sh           the full run (1 GiB media, 5 rounds; several minutes)
#   bench/run.sh --quick   a smoke run (small files, 1 round; well under a minute) so the
#                          harness cannot rot: scripts/test.sh runs it
#
# A  one client streaming a large media to /dev/null: ours vs nginx (sendfile on)
# B  4 KiB ranged GETs/s, 64 keep-alive connections (wrk -t1): ours vs nginx
# C  whole 300 KB GETs/s, same setup: ours vs nginx
# D  our server's peak private (anonymous) memory while 64 clients stream the large media
# E  upload_all of 20 MiB and a chunked upload of the large media: MB/s vs dd conv=fsync
# F  downloading the large media: our CLI (its own segments) vs curl vs aria2c -x4 -s4
#    (wall time, cmp'd); Fmem: the CLI's peak resident memory meanwhile
# S3 streaming the large media from a server on S3 blobs (s3s-fs): ours vs a direct,
#    signed GET of the same bytes as one object from the same S3 server (curl both)
# R  4 KiB ranged GETs/s of an app with rate limits: counted in Redis vs in process
#
# A catalogue of 100 000 media of 1–4 KiB (bench/catalogue.py), on a server of its own:
# B1k, B100k  whole GETs/s of media drawn from a shuffled list of the first 1 000 / all
#    100 000 (64 connections, wrk -t1 with bench/random-paths.lua): ours vs nginx serving
#    the same files in the same order, with its open_file_cache
# L  p50, p99 and the slowest request at 256, 1 024 and 4 096 connections, B1k's load:
#    ours vs nginx, and the handshakes the kernel dropped meanwhile; Lmem: anonymous
#    memory per idle keep-alive connection (bench/conns.py)
# S  seeding the catalogue: the first load, then an unchanged re-load (same data dir)
# U  200 chunked uploads of one 4 MiB block each, at once (bench/uploads.py): our peak and
#    after anonymous memory
# G  a 64 MiB download over a slow link (a fault rule: 300 ms to the first byte, 8 MB/s
#    per connection): our CLI (choosing its own segments, default quota) vs curl and
#    aria2c -x4 -s4
#
#   BENCH_ONLY="C Ebig" bench/run.sh   only those figures (A B C D E F S3 R B1k B100k L S U G;
#                                      E runs E20 and Ebig)
#   BENCH_ROUNDS=3 bench/run.sh         another number of rounds
#   BENCH_BIN=/tmp/old bench/run.sh     another build of ours (compare two commits)
#
# Prints a Markdown table and writes bench/results/latest.json (quick runs write
# bench/results/quick.json). Loopback only; every load is bounded in time.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

quick=0
[ "${1:-}" = "--quick" ] && quick=1
if [ $quick = 1 ]; then
  rounds=1; big_mib=32; wrk_secs=1; d_clients=8; d_secs=1; out=bench/results/quick.json
  cat_all=3000; cat_small=300; l_conns="256 1024"; idle_conns=2048; uploads=20; slow_mib=4
else
  rounds=5; big_mib=1024; wrk_secs=5; d_clients=64; d_secs=4; out=bench/results/latest.json
  cat_all=100000; cat_small=1000; l_conns="256 1024 4096"; idle_conns=4096; uploads=200; slow_mib=64
fi
# The slow link of G.
slow_first_byte_ms=300; slow_rate=8000000

rounds=${BENCH_ROUNDS:-$rounds}
# A partial run must not overwrite the full table.
[ -n "${BENCH_ONLY:-}${BENCH_ROUNDS:-}" ] && out=bench/results/partial.json
# Whether figure $1 is wanted (all of them unless BENCH_ONLY names some).
want() { [ -z "${BENCH_ONLY:-}" ] || [[ " $BENCH_ONLY " == *" $1 "* ]]; }

log() { printf '==> %s\n' "$*" >&2; }

# --- tools -------------------------------------------------------------------------------
need=()
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
command -v wrk >/dev/null || need+=(wrk)
command -v aria2c >/dev/null || need+=(aria2)
command -v curl >/dev/null || need+=(curl)
command -v bc >/dev/null || need+=(bc)
command -v redis-server >/dev/null || need+=(redis-server)
if ((${#need[@]})); then
  log "installing ${need[*]}"
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
# L opens 4 096 connections at once, from wrk and to both servers (as many descriptors
# as this shell may have; 20 000 here).
ulimit -n "$(ulimit -Hn)"

if [ -n "${BENCH_BIN:-}" ]; then
  BIN=$BENCH_BIN
else
  # The smoke run checks the harness, not the figures: no LTO (see Cargo.toml).
  profile=release
  [ $quick = 1 ] && profile=smoke
  log "building ($profile)"
  cargo build --profile "$profile" --locked -p feishu-media >&2
  BIN=$root/target/$profile/feishu-media
fi

work=$(mktemp -d /tmp/feishu-media-bench.XXXXXX)
chmod 755 "$work" # nginx's workers run as another user
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# --- files and servers -------------------------------------------------------------------
log "creating ${big_mib} MiB and 300 KB files"
mkdir -p "$work/www" "$work/data" "$work/dl"
head -c $((big_mib * 1024 * 1024)) /dev/urandom >"$work/www/big.bin"
head -c 300000 /dev/urandom >"$work/www/small.bin"
head -c $((20 * 1024 * 1024)) /dev/urandom >"$work/twenty.bin"
cat >"$work/manifest.json" <<JSON
{"apps": [{"app_id": "cli_bench", "app_secret": "bench", "tenant_key": "bench",
           "scopes": ["drive:drive"], "rate_limit": null},
          {"app_id": "cli_limited", "app_secret": "bench", "tenant_key": "bench",
           "scopes": ["drive:drive"], "rate_limit": {"per_second": 1000000, "per_day": 4000000000}}],
 "documents": [{"token": "doxBench", "type": "docx", "tenant_key": "bench", "owner": "app:cli_bench",
                "members": [{"principal": "app:cli_limited", "role": "view"}]}],
 "media": [{"file_token": "boxBig", "document": "doxBench", "parent_type": "docx_file", "file_name": "big.bin", "path": "www/big.bin"},
           {"file_token": "boxSmall", "document": "doxBench", "parent_type": "docx_file", "file_name": "small.bin", "path": "www/small.bin"}]}
JSON

# Only the app: for servers that start empty (U).
cat >"$work/apps.json" <<JSON
{"apps": [{"app_id": "cli_bench", "app_secret": "bench", "tenant_key": "bench", "scopes": ["drive:drive"], "rate_limit": null}]}
JSON

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ours_port=$(free_port)
FEISHU_MEDIA_LOG=warn "$BIN" serve --listen "127.0.0.1:$ours_port" --data-dir "$work/data" --seed "$work/manifest.json" \
  >"$work/ours.out" 2>"$work/ours.err" &
ours_pid=$!; pids+=("$ours_pid")

nginx_port=$(free_port)
cat >"$work/nginx.conf" <<CONF
worker_processes auto;
worker_rlimit_nofile 16384;
pid $work/nginx.pid;
error_log $work/nginx.err;
events { worker_connections 10240; }
http {
  access_log off;
  sendfile on; tcp_nopush on; tcp_nodelay on;
  keepalive_requests 1000000;
  # As a real deployment of many files would: descriptors and sizes kept, as ours are.
  open_file_cache max=10000 inactive=60s; open_file_cache_valid 60s;
  server { listen 127.0.0.1:$nginx_port; root $work/www; }
}
CONF
"$NGINX" -c "$work/nginx.conf"

ours=http://127.0.0.1:$ours_port
ngx=http://127.0.0.1:$nginx_port
for _ in $(seq 1 100); do curl -sf "$ours/healthz" >/dev/null && curl -sf "$ngx/small.bin" -o /dev/null && break; sleep 0.1; done
for u in "$ngx/big.bin" "$ngx/small.bin"; do
  code=$(curl -s -o /dev/null -r 0-0 -w '%{http_code}' "$u")
  [ "$code" = 206 ] || { echo "nginx answers $code for $u" >&2; exit 1; }
done
token=$(curl -s -X POST "$ours/open-apis/auth/v3/tenant_access_token/internal" -d '{"app_id":"cli_bench","app_secret":"bench"}' \
  | sed -E 's/.*"tenant_access_token":"([^"]+)".*/\1/')
auth="Authorization: Bearer $token"
big_url="$ours/open-apis/drive/v1/medias/boxBig/download"
small_url="$ours/open-apis/drive/v1/medias/boxSmall/download"
for u in "$big_url" "$small_url"; do
  code=$(curl -s -o /dev/null -r 0-0 -H "$auth" -w '%{http_code}' "$u")
  [ "$code" = 206 ] || { echo "ours answers $code for $u" >&2; exit 1; }
done

# S and R: engines of their own (s3s-fs, as scripts/test.sh installs it; Redis) and two
# more servers of ours: one on S3 blobs, one counting limits in Redis.
tenant_token() {
  curl -s -X POST "$1/open-apis/auth/v3/tenant_access_token/internal" -d "{\"app_id\":\"$2\",\"app_secret\":\"bench\"}" \
    | sed -E 's/.*"tenant_access_token":"([^"]+)".*/\1/'
}
if want S3; then
  command -v s3s-fs >/dev/null || { log "S needs s3s-fs: cargo install s3s-fs --version 0.14.1 --features binary --locked"; exit 1; }
  s3_port=$(free_port); mkdir -p "$work/s3/media"
  s3s-fs --host 127.0.0.1 --port "$s3_port" --access-key AKIDBENCH --secret-key bench-secret "$work/s3" \
    >/dev/null 2>&1 & pids+=($!)
  s3=http://127.0.0.1:$s3_port
  for _ in $(seq 1 100); do curl -s -o /dev/null "$s3/" && break; sleep 0.05; done
  # curl signs (SigV4); S3 wants the payload hash named, here as unsigned.
  sigv4=(--aws-sigv4 "aws:amz:us-east-1:s3" --user "AKIDBENCH:bench-secret" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD")
  curl -sf "${sigv4[@]}" -T "$work/www/big.bin" "$s3/media/anchor.bin" -o /dev/null
  s3ours_port=$(free_port)
  AWS_ACCESS_KEY_ID=AKIDBENCH AWS_SECRET_ACCESS_KEY=bench-secret FEISHU_MEDIA_LOG=warn "$BIN" serve \
    --listen "127.0.0.1:$s3ours_port" --data-dir "$work/data-s3" --seed "$work/manifest.json" \
    --blobs "s3://media?endpoint=$s3&region=us-east-1" >/dev/null 2>"$work/ours-s3.err" & pids+=($!)
  s3ours=http://127.0.0.1:$s3ours_port
  for _ in $(seq 1 600); do curl -sf "$s3ours/readyz" >/dev/null && break; sleep 0.1; done
  s3auth="Authorization: Bearer $(tenant_token "$s3ours" cli_bench)"
fi
if want R; then
  redis_port=$(free_port)
  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no >/dev/null & pids+=($!)
  for _ in $(seq 1 100); do redis-cli -p "$redis_port" ping 2>/dev/null | grep -q PONG && break; sleep 0.05; done
  rours_port=$(free_port)
  FEISHU_MEDIA_LOG=warn "$BIN" serve --listen "127.0.0.1:$rours_port" --data-dir "$work/data-r" \
    --seed "$work/manifest.json" --limits "redis://127.0.0.1:$redis_port" >/dev/null 2>"$work/ours-r.err" & pids+=($!)
  rours=http://127.0.0.1:$rours_port
  for _ in $(seq 1 600); do curl -sf "$rours/readyz" >/dev/null && break; sleep 0.1; done
  lim_local="Authorization: Bearer $(tenant_token "$ours" cli_limited)"
  lim_redis="Authorization: Bearer $(tenant_token "$rours" cli_limited)"
  code=$(curl -s -o /dev/null -r 0-0 -H "$lim_redis" -w '%{http_code}' "$rours/open-apis/drive/v1/medias/boxSmall/download")
  [ "$code" = 206 ] || { echo "R: the Redis-limited server answers $code" >&2; exit 1; }
fi

# --- measurements: one line "ID CONTENDER VALUE" each -----------------------------------
results=$work/results.txt
: >"$results"
record() { echo "$1 $2 $3" >>"$results"; }

speed() { curl -s -o /dev/null -w '%{speed_download}' "$@"; }            # bytes/s
rps() { loadgen wrk -t1 -c64 -d"${wrk_secs}s" "$@" | awk '/Requests\/sec/ {print $2}'; }

# The request-rate figures (B, C, B1k, B100k) keep wrk and the server apart: wrk on the
# last CPU, the server under test (every thread of ours, every nginx worker) on the
# others, the same for both contenders. Unpinned, the client and the server's threads
# share the cores by the scheduler's turns, and the figure is that sharing's as much as
# the server's: on two cores, three runnable threads (two of the server, wrk) left the
# machine a third idle, and how a server happened to spread its load over its threads
# (nginx's workers took connections 3:1, ours 1:1) moved its figure by 10–20%.
# BENCH_PIN=0 measures them unpinned.
cpus=$(nproc)
pin=${BENCH_PIN:-1}
((cpus >= 2)) || pin=0
pinned=0
# pin_servers PID...: these processes' threads onto the server CPUs, wrk onto the last.
pin_servers() {
  ((pin)) || return 0
  local p; for p in "$@"; do taskset -a -p -c "0-$((cpus - 2))" "$p" >/dev/null; done
  pinned=1
}
# unpin_servers PID...: every CPU again.
unpin_servers() {
  ((pinned)) || return 0
  local p; for p in "$@"; do taskset -a -p -c "0-$((cpus - 1))" "$p" >/dev/null 2>&1 || true; done
  pinned=0
}
loadgen() { if ((pinned)); then taskset -c "$((cpus - 1))" "$@"; else "$@"; fi; }
wall() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc -l; }

# D: our server's peak anonymous memory while many clients stream the large media at
# once, each for at most a few seconds (the peak comes in the first moments).
peak_memory() {
  local max=0 v cpids=() running p
  for _ in $(seq 1 "$d_clients"); do
    curl -s --max-time "$d_secs" -H "$auth" -o /dev/null "$big_url" &
    cpids+=($!)
  done
  while :; do
    v=$(awk '/RssAnon/ {print $2}' "/proc/$ours_pid/status")
    ((v > max)) && max=$v
    running=0
    for p in "${cpids[@]}"; do kill -0 "$p" 2>/dev/null && running=1; done
    ((running)) || break
    sleep 0.05
  done
  wait "${cpids[@]}" 2>/dev/null || true
  echo $((max * 1024))
}

# Runs a command and prints its peak resident memory in bytes (VmHWM, read until it
# exits); fails if the command does.
peak_rss() {
  local pid hwm=0 v
  "$@" >/dev/null 2>&1 &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    v=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
    [ -n "$v" ] && ((v > hwm)) && hwm=$v
    sleep 0.02
  done
  wait "$pid" || return 1
  echo $((hwm * 1024))
}

# E's contenders: each records MB/s. dd_write ID FILE MIB.
dd_write() {
  local s e; sync
  s=$(date +%s.%N); dd if="$2" of="$work/dd.bin" bs=4M conv=fsync status=none; e=$(date +%s.%N)
  record "$1" dd "$(echo "$3 * 1048576 / ($e - $s)" | bc -l)"; rm -f "$work/dd.bin"
}
upload_all_ours() {
  local s e; sync
  s=$(date +%s.%N)
  curl -s -H "$auth" -F file_name=t.bin -F parent_type=ccm_import_open -F size=$((20 * 1024 * 1024)) \
    -F "file=@$work/twenty.bin" "$ours/open-apis/drive/v1/medias/upload_all" -o /dev/null
  e=$(date +%s.%N); record E20 ours "$(echo "20 * 1048576 / ($e - $s)" | bc -l)"
}
chunked_ours() {
  local t; sync
  t=$(wall "$BIN" upload "$work/www/big.bin" --parent-type ccm_import_open --base-url "$ours" --app-id cli_bench --app-secret bench --rate 0)
  record Ebig ours "$(echo "$big_mib * 1048576 / $t" | bc -l)"
}

# --- the catalogue (B1k, B100k, L, Lmem, S) and the slow link (G): servers of their own ---
# Starts a server on $1 (data dir) with the catalogue; sets cat_pid, and cat_secs to the
# seconds until it answered.
start_catalogue() {
  local s e
  s=$(date +%s.%N)
  FEISHU_MEDIA_LOG=warn "$BIN" serve --listen "127.0.0.1:$cat_port" --data-dir "$1" --seed "$work/catalogue.json" \
    >/dev/null 2>"$work/ours-cat.err" &
  cat_pid=$!; pids+=("$cat_pid")
  until curl -sf "$cat/healthz" >/dev/null; do
    kill -0 "$cat_pid" 2>/dev/null || { cat "$work/ours-cat.err" >&2; echo "the catalogue server stopped" >&2; exit 1; }
    sleep 0.05
  done
  e=$(date +%s.%N); cat_secs=$(echo "$e - $s" | bc -l)
}
if want B1k || want B100k || want L || want S; then
  log "creating a catalogue of $cat_all media"
  python3 bench/catalogue.py "$work" "$cat_all" "$cat_small"
  cat_port=$(free_port); cat=http://127.0.0.1:$cat_port
  cat >"$work/idle.json" <<JSON
{"apps": [{"app_id": "cli_bench", "app_secret": "bench", "tenant_key": "bench", "scopes": ["drive:drive"], "rate_limit": null}],
 "documents": [{"token": "doxIdle", "type": "docx", "tenant_key": "bench", "owner": "app:cli_bench"}],
 "media": [{"file_token": "boxIdle", "document": "doxIdle", "parent_type": "docx_image", "file_name": "i.bin", "path": "www/c/000001.bin"}]}
JSON
  # S: the first load, then the same manifest again on the same data dir, unchanged.
  start_catalogue "$work/data-cat"; record S first "$cat_secs"
  kill "$cat_pid"; wait "$cat_pid" 2>/dev/null || true
  start_catalogue "$work/data-cat"; record S ours "$cat_secs"
  cat_auth="Authorization: Bearer $(tenant_token "$cat" cli_bench)"
  for u in "$cat/open-apis/drive/v1/medias/boxCat000000/download" "$ngx/c/000000.bin"; do
    cmp -s <(curl -sf -H "$cat_auth" "$u") "$work/www/c/000000.bin" || { echo "the catalogue is not served: $u" >&2; exit 1; }
  done
fi
if want G; then
  head -c $((slow_mib * 1024 * 1024)) /dev/urandom >"$work/slow.bin"
  cat >"$work/slow.json" <<JSON
{"apps": [{"app_id": "cli_bench", "app_secret": "bench", "tenant_key": "bench", "scopes": ["drive:drive"], "rate_limit": null}],
 "documents": [{"token": "doxSlow", "type": "docx", "tenant_key": "bench", "owner": "app:cli_bench"}],
 "media": [{"file_token": "boxSlow", "document": "doxSlow", "parent_type": "docx_file", "file_name": "slow.bin", "path": "slow.bin"}]}
JSON
  cat >"$work/slow-faults.json" <<JSON
[{"endpoint": "download", "file_token": "boxSlow",
  "action": {"first_byte_ms": $slow_first_byte_ms, "bandwidth_bytes_per_s": $slow_rate}}]
JSON
  slow_port=$(free_port); slow=http://127.0.0.1:$slow_port
  FEISHU_MEDIA_LOG=warn "$BIN" serve --listen "127.0.0.1:$slow_port" --data-dir "$work/data-slow" --seed "$work/slow.json" \
    --faults "$work/slow-faults.json" >/dev/null 2>"$work/ours-slow.err" & pids+=($!)
  for _ in $(seq 1 600); do curl -sf "$slow/readyz" >/dev/null && break; sleep 0.1; done
  slow_auth="Authorization: Bearer $(tenant_token "$slow" cli_bench)"
  slow_url="$slow/open-apis/drive/v1/medias/boxSlow/download"
fi

# wrk on the catalogue: "REQS_PER_S P50_MS P99_MS MAX_MS" (bench/wrk_report.py).
# catalogue_wrk CONNECTIONS ours|nginx small|all
catalogue_wrk() {
  local c=$1 who=$2 list=$3 secs=$wrk_secs
  if [ "$who" = ours ]; then
    loadgen wrk -t1 -c"$c" -d"${secs}s" --timeout 30s --latency -s bench/random-paths.lua -H "$cat_auth" "$cat" -- "$work/paths-ours-$list.txt"
  else
    loadgen wrk -t1 -c"$c" -d"${secs}s" --timeout 30s --latency -s bench/random-paths.lua "$ngx" -- "$work/paths-nginx-$list.txt"
  fi | python3 bench/wrk_report.py
}
# record_catalogue ID CONNECTIONS small|all: req/s for B…, latencies for L.
# The kernel's count of handshakes dropped because a listen queue was full (one server
# is loaded at a time, so a difference is that server's).
listen_overflows() { awk '/^TcpExt:/ { if (!n) { for (i = 1; i <= NF; i++) if ($i == "ListenOverflows") col = i; n = 1 } else print $col }' /proc/net/netstat; }
record_catalogue() {
  local who line before
  for who in "${@:4}"; do
    before=$(listen_overflows)
    line=$(catalogue_wrk "$2" "$who" "$3")
    if [ "$1" = L ]; then
      read -r _ p50 p99 max <<<"$line"
      record "L${2}p50" "$who" "$p50"; record "L${2}p99" "$who" "$p99"; record "L${2}max" "$who" "$max"
      record "L${2}drops" "$who" "$(($(listen_overflows) - before))"
    else
      record "$1" "$who" "${line%% *}"
    fi
  done
}
nginx_workers() { pgrep -P "$(cat "$work/nginx.pid")" | tr '\n' ' '; }

for r in $(seq 1 $rounds); do
  log "round $r/$rounds"
  # A: alternate which goes first.
  if ! want A; then :
  elif ((r % 2)); then
    record A ours "$(speed -H "$auth" "$big_url")"; record A nginx "$(speed "$ngx/big.bin")"
  else
    record A nginx "$(speed "$ngx/big.bin")"; record A ours "$(speed -H "$auth" "$big_url")"
  fi
  want B || want C && pin_servers "$ours_pid" $(nginx_workers)
  if want B; then
    if ((r % 2)); then
      record B ours "$(rps -H "$auth" -H 'Range: bytes=4096-8191' "$small_url")"
      record B nginx "$(rps -H 'Range: bytes=4096-8191' "$ngx/small.bin")"
    else
      record B nginx "$(rps -H 'Range: bytes=4096-8191' "$ngx/small.bin")"
      record B ours "$(rps -H "$auth" -H 'Range: bytes=4096-8191' "$small_url")"
    fi
  fi
  if want C; then
    if ((r % 2)); then
      record C nginx "$(rps "$ngx/small.bin")"
      record C ours "$(rps -H "$auth" "$small_url")"
    else
      record C ours "$(rps -H "$auth" "$small_url")"
      record C nginx "$(rps "$ngx/small.bin")"
    fi
  fi
  unpin_servers "$ours_pid" $(nginx_workers)
  want D && record D ours "$(peak_memory)"

  # E: upload_all of 20 MiB, a chunked upload of the large file (our CLI), vs dd, in
  # alternating order; each run starts after a sync, so none pays for another's writeback.
  if want E; then
    if ((r % 2)); then
      upload_all_ours; dd_write E20 "$work/twenty.bin" 20; chunked_ours; dd_write Ebig "$work/www/big.bin" "$big_mib"
    else
      dd_write E20 "$work/twenty.bin" 20; upload_all_ours; dd_write Ebig "$work/www/big.bin" "$big_mib"; chunked_ours
    fi
  fi

  if want S3; then
    if ((r % 2)); then
      record S3 ours "$(speed -H "$s3auth" "$s3ours/open-apis/drive/v1/medias/boxBig/download")"
      record S3 s3 "$(speed "${sigv4[@]}" "$s3/media/anchor.bin")"
    else
      record S3 s3 "$(speed "${sigv4[@]}" "$s3/media/anchor.bin")"
      record S3 ours "$(speed -H "$s3auth" "$s3ours/open-apis/drive/v1/medias/boxBig/download")"
    fi
  fi
  if want R; then
    if ((r % 2)); then
      record R ours "$(rps -H "$lim_redis" -H 'Range: bytes=4096-8191' "$rours/open-apis/drive/v1/medias/boxSmall/download")"
      record R inprocess "$(rps -H "$lim_local" -H 'Range: bytes=4096-8191' "$small_url")"
    else
      record R inprocess "$(rps -H "$lim_local" -H 'Range: bytes=4096-8191' "$small_url")"
      record R ours "$(rps -H "$lim_redis" -H 'Range: bytes=4096-8191' "$rours/open-apis/drive/v1/medias/boxSmall/download")"
    fi
  fi

  # The catalogue: contenders alternate which goes first.
  order="ours nginx"; ((r % 2)) || order="nginx ours"
  want B1k || want B100k && pin_servers "$cat_pid" $(nginx_workers)
  want B1k && record_catalogue B1k 64 small $order
  want B100k && record_catalogue B100k 64 all $order
  unpin_servers "$cat_pid" $(nginx_workers)
  if want L; then
    for c in $l_conns; do record_catalogue L "$c" small $order; done
    # On a server started for it (memory freed by earlier load would be reused).
    idle_port=$(free_port)
    FEISHU_MEDIA_LOG=warn "$BIN" serve --listen "127.0.0.1:$idle_port" --data-dir "$work/data-idle" \
      --seed "$work/idle.json" >/dev/null 2>"$work/ours-idle.err" &
    idle_pid=$!; pids+=("$idle_pid")
    until curl -sf "http://127.0.0.1:$idle_port/healthz" >/dev/null; do sleep 0.05; done
    record Lmem ours "$(python3 bench/conns.py "$idle_port" /open-apis/drive/v1/medias/boxIdle/download \
      "$idle_conns" "Authorization: Bearer $(tenant_token "http://127.0.0.1:$idle_port" cli_bench)" "$idle_pid")"
    kill "$idle_pid"; wait "$idle_pid" 2>/dev/null || true
    # shellcheck disable=SC2046 # one argument per worker
    record Lmem nginx "$(python3 bench/conns.py "$nginx_port" /c/000001.bin "$idle_conns" "" $(nginx_workers))"
  fi
  if want U; then
    # On a server started for it, so that no earlier upload's memory is counted (nor
    # this one's in D).
    u_port=$(free_port)
    FEISHU_MEDIA_LOG=warn "$BIN" serve --listen "127.0.0.1:$u_port" --data-dir "$work/data-u-$r" \
      --seed "$work/apps.json" >/dev/null 2>"$work/ours-u.err" &
    u_pid=$!; pids+=("$u_pid")
    until curl -sf "http://127.0.0.1:$u_port/healthz" >/dev/null; do sleep 0.05; done
    read -r u_start u_peak u_after <<<"$(python3 bench/uploads.py "http://127.0.0.1:$u_port" \
      "$(tenant_token "http://127.0.0.1:$u_port" cli_bench)" "$u_pid" "$uploads")"
    record Upeak ours "$((u_peak - u_start))"; record Uafter ours "$((u_after - u_start))"
    kill "$u_pid"; wait "$u_pid" 2>/dev/null || true; rm -rf "$work/data-u-$r"
  fi
  # G: the three downloaders over the slow link, each output compared with the source.
  if want G; then
    rm -rf "$work/dl"/*
    t=$(wall "$BIN" download boxSlow -o "$work/dl" --base-url "$slow" --app-id cli_bench --app-secret bench --force)
    cmp -s "$work/dl/slow.bin" "$work/slow.bin" || { echo "G: our CLI's bytes differ" >&2; exit 1; }
    record G ours "$t"
    t=$(wall curl -s -H "$slow_auth" -o "$work/dl/curl.bin" "$slow_url")
    cmp -s "$work/dl/curl.bin" "$work/slow.bin" || { echo "G: curl's bytes differ" >&2; exit 1; }
    record G curl "$t"
    t=$(wall aria2c -q -x4 -s4 --allow-overwrite=true --header="$slow_auth" -d "$work/dl" -o aria.bin "$slow_url")
    cmp -s "$work/dl/aria.bin" "$work/slow.bin" || { echo "G: aria2c's bytes differ" >&2; exit 1; }
    record G aria2c "$t"
    rm -rf "$work/dl"/*
  fi

  # F: three downloaders, in turn, each output compared with the source.
  if want F; then
    rm -rf "$work/dl"/*
    # As users run it: the CLI splits the download as its first answer suggests.
    s=$(date +%s.%N)
    peak=$(peak_rss "$BIN" download boxBig -o "$work/dl" --base-url "$ours" --app-id cli_bench --app-secret bench --force)
    e=$(date +%s.%N)
    cmp -s "$work/dl/big.bin" "$work/www/big.bin" || { echo "F: our CLI's bytes differ" >&2; exit 1; }
    record F ours "$(echo "$e - $s" | bc -l)"; record Fmem ours "$peak"
    t=$(wall curl -s -H "$auth" -o "$work/dl/curl.bin" "$big_url")
    cmp -s "$work/dl/curl.bin" "$work/www/big.bin" || { echo "F: curl's bytes differ" >&2; exit 1; }
    record F curl "$t"
    t=$(wall aria2c -q -x4 -s4 --allow-overwrite=true --header="$auth" -d "$work/dl" -o aria.bin "$big_url")
    cmp -s "$work/dl/aria.bin" "$work/www/big.bin" || { echo "F: aria2c's bytes differ" >&2; exit 1; }
    record F aria2c "$t"
    rm -rf "$work/dl"/*
  fi
done

# --- the table ----------------------------------------------------------------------------
python3 - "$results" "$out" "$quick" "$big_mib" "$cat_small" "$cat_all" "$idle_conns" "$uploads" "$slow_mib" <<'PY'
import json, statistics, subprocess, sys, os
path, out, quick, big_mib = sys.argv[1], sys.argv[2], sys.argv[3] == "1", int(sys.argv[4])
cat_small, cat_all, idle, uploads, slow_mib = (int(x) for x in sys.argv[5:10])
data = {}
for line in open(path):
    i, who, v = line.split()
    data.setdefault(i, {}).setdefault(who, []).append(float(v))
def stat(xs):
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "n": len(xs)}
# A target is a ratio to the anchor ("×"), or an absolute bound on ours (a unit), or
# none (a figure for reference).
X = "×"
rows = [
    # id, what, ours, anchor, unit, better, target, target kind
    ("A", f"stream {big_mib} MiB to /dev/null", "ours", "nginx", "MB/s", "higher", 0.9, X),
    ("B", "4 KiB ranged GETs/s, 64 connections", "ours", "nginx", "req/s", "higher", 1.0, X),
    ("C", "300 KB GETs/s, 64 connections", "ours", "nginx", "req/s", "higher", 1.0, X),
    ("B1k", f"1–4 KiB GETs/s drawn from {cat_small} media, 64 connections", "ours", "nginx", "req/s", "higher", 0.9, X),
    ("B100k", f"1–4 KiB GETs/s drawn from {cat_all} media, 64 connections", "ours", "nginx", "req/s", "higher", 0.8, X),
]
for c in (256, 1024, 4096):
    rows += [
        (f"L{c}p50", f"p50 latency, {c} connections (B1k's load)", "ours", "nginx", "ms", "lower", None, None),
        (f"L{c}p99", f"p99 latency, {c} connections", "ours", "nginx", "ms", "lower", 1.5 if c == 1024 else None, X),
        (f"L{c}max", f"slowest request, {c} connections", "ours", "nginx", "ms", "lower", 4.0 if c == 4096 else None, X),
        (f"L{c}drops", f"handshakes dropped, listen queue full, {c} connections", "ours", "nginx", "drops", "lower", None, None),
    ]
rows += [
    ("Lmem", f"anonymous memory per idle connection ({idle} open)", "ours", "nginx", "KiB", "lower", 4, "KiB"),
    ("D", f"peak private memory, {64 if not quick else 8} clients streaming", "ours", None, "MiB", "lower", 64, "MiB"),
    ("E20", "upload_all 20 MiB", "ours", "dd", "MB/s", "higher", 0.5, X),
    ("Ebig", f"chunked upload {big_mib} MiB", "ours", "dd", "MB/s", "higher", 0.5, X),
    ("Upeak", f"{uploads} chunked uploads of 4 MiB at once: peak memory growth", "ours", None, "MiB", "lower", 96, "MiB"),
    # "Back near the start": what stays is the upload pieces' pool (at most 32 reused
    # 1 MiB buffers, by design) and what glibc keeps of the freed ones.
    ("Uafter", "… and 3 s after they finished", "ours", None, "MiB", "lower", 40, "MiB"),
    ("S", f"seed {cat_all} media: unchanged re-load vs first load", "ours", "first", "s", "lower", 0.2, X),
    ("F", f"download {big_mib} MiB (our CLI vs aria2c -x4 -s4)", "ours", "aria2c", "s", "lower", 1.0, X),
    ("F′", f"download {big_mib} MiB (our CLI vs curl, one stream)", "ours", "curl", "s", "lower", None, None),
    ("Fmem", f"our CLI's peak memory downloading {big_mib} MiB", "ours", None, "MiB", "lower", 32, "MiB"),
    ("G", f"download {slow_mib} MiB over a slow link (our CLI vs aria2c -x4 -s4)", "ours", "aria2c", "s", "lower", 1.0, X),
    ("G′", f"download {slow_mib} MiB over a slow link (our CLI vs curl)", "ours", "curl", "s", "lower", 0.4, X),
    ("S3", f"stream {big_mib} MiB from S3 blobs (vs a direct signed GET)", "ours", "s3", "MB/s", "higher", 0.8, X),
    ("R", "4 KiB ranged GETs/s, limits in Redis (vs in process)", "ours", "inprocess", "req/s", "higher", 0.8, X),
]
scale = {"MB/s": 1e6, "req/s": 1, "MiB": 1048576, "KiB": 1024, "s": 1, "ms": 1, "drops": 1}
table, report = [], []
for i, what, us, anchor, unit, better, target, kind in rows:
    src = data.get(i.rstrip("′"))
    if not src or us not in src or (anchor and anchor not in src): continue
    o = stat([x / scale[unit] for x in src[us]])
    a = stat([x / scale[unit] for x in src[anchor]]) if anchor else None
    ratio = o["median"] / a["median"] if a and a["median"] else None
    value = ratio if kind == X else o["median"]
    if target is None or value is None:
        met, target_s = None, "for reference"
    else:
        met = value >= target if better == "higher" else value <= target
        sign = "≥" if better == "higher" else "≤"
        target_s = f"{sign} {target}×" if kind == X else f"{sign} {target} {kind}"
    fmt = lambda s: f'{s["median"]:.1f} ({s["min"]:.1f}–{s["max"]:.1f})' if unit != "s" else \
        f'{s["median"]:.2f} ({s["min"]:.2f}–{s["max"]:.2f})'
    anchor_s = f"{anchor}: {fmt(a)} {unit}" if a else "–"
    ratio_s = f"{ratio:.2f}×" if ratio is not None else "–"
    met_s = "–" if met is None else ("yes" if met else "**no**")
    table.append(f"| {i} | {what} | {fmt(o)} {unit} | {anchor_s} | {ratio_s} | {target_s} | {met_s} |")
    report.append({"id": i, "what": what, "unit": unit, "ours": o, "anchor": anchor, "anchor_stats": a,
                   "ratio": ratio, "target": target, "target_kind": kind, "better": better, "met": met})
print("| id | measure | ours: median (min–max) | anchor: median (min–max) | ratio | target | met |")
print("|---|---|---|---|---|---|---|")
print("\n".join(table))
commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
json.dump({"quick": quick, "cores": os.cpu_count(), "commit": commit, "big_mib": big_mib, "results": report},
          open(out, "w"), indent=2)
print(f"\n(written to {out}; {os.cpu_count()} cores, commit {commit[:12]})")
PY
