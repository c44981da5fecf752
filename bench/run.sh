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
# F  downloading the large media: our CLI vs curl vs aria2c -x4 -s4 (wall time, cmp'd)
# S  streaming the large media from a server on S3 blobs (s3s-fs): ours vs a direct,
#    signed GET of the same bytes as one object from the same S3 server (curl both)
# R  4 KiB ranged GETs/s of an app with rate limits: counted in Redis vs in process
#
#   BENCH_ONLY="C Ebig" bench/run.sh   only those figures (A B C D E F S R; E runs E20 and Ebig)
#   BENCH_ROUNDS=3 bench/run.sh         another number of rounds
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
else
  rounds=5; big_mib=1024; wrk_secs=5; d_clients=64; d_secs=4; out=bench/results/latest.json
fi

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

log "building (release)"
cargo build --release --locked -p feishu-media >&2
BIN=$root/target/release/feishu-media

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

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ours_port=$(free_port)
FEISHU_MEDIA_LOG=warn "$BIN" serve --listen "127.0.0.1:$ours_port" --data-dir "$work/data" --seed "$work/manifest.json" \
  >"$work/ours.out" 2>"$work/ours.err" &
ours_pid=$!; pids+=("$ours_pid")

nginx_port=$(free_port)
cat >"$work/nginx.conf" <<CONF
worker_processes auto;
pid $work/nginx.pid;
error_log $work/nginx.err;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on; tcp_nopush on; tcp_nodelay on;
  keepalive_requests 1000000;
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
if want S; then
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
rps() { wrk -t1 -c64 -d"${wrk_secs}s" "$@" | awk '/Requests\/sec/ {print $2}'; }
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

for r in $(seq 1 $rounds); do
  log "round $r/$rounds"
  # A: alternate which goes first.
  if ! want A; then :
  elif ((r % 2)); then
    record A ours "$(speed -H "$auth" "$big_url")"; record A nginx "$(speed "$ngx/big.bin")"
  else
    record A nginx "$(speed "$ngx/big.bin")"; record A ours "$(speed -H "$auth" "$big_url")"
  fi
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

  if want S; then
    if ((r % 2)); then
      record S ours "$(speed -H "$s3auth" "$s3ours/open-apis/drive/v1/medias/boxBig/download")"
      record S s3 "$(speed "${sigv4[@]}" "$s3/media/anchor.bin")"
    else
      record S s3 "$(speed "${sigv4[@]}" "$s3/media/anchor.bin")"
      record S ours "$(speed -H "$s3auth" "$s3ours/open-apis/drive/v1/medias/boxBig/download")"
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

  # F: three downloaders, in turn, each output compared with the source.
  if want F; then
    rm -rf "$work/dl"/*
    t=$(wall "$BIN" download boxBig -o "$work/dl" --base-url "$ours" --app-id cli_bench --app-secret bench \
        --rate 0 --connections 4 --chunk-mib $(( (big_mib + 3) / 4 )) --force)
    cmp -s "$work/dl/big.bin" "$work/www/big.bin" || { echo "F: our CLI's bytes differ" >&2; exit 1; }
    record F ours "$t"
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
python3 - "$results" "$out" "$quick" "$big_mib" <<'PY'
import json, statistics, subprocess, sys, os
path, out, quick, big_mib = sys.argv[1], sys.argv[2], sys.argv[3] == "1", int(sys.argv[4])
data = {}
for line in open(path):
    i, who, v = line.split()
    data.setdefault(i, {}).setdefault(who, []).append(float(v))
def stat(xs):
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "n": len(xs)}
rows = [
    # id, what, ours, anchor, unit, better, target
    ("A", f"stream {big_mib} MiB to /dev/null", "ours", "nginx", "MB/s", "higher", 0.9),
    ("B", "4 KiB ranged GETs/s, 64 connections", "ours", "nginx", "req/s", "higher", 0.7),
    ("C", "300 KB GETs/s, 64 connections", "ours", "nginx", "req/s", "higher", 0.8),
    ("D", f"peak private memory, {64 if not quick else 8} clients streaming", "ours", None, "MiB", "lower", 64),
    ("E20", "upload_all 20 MiB", "ours", "dd", "MB/s", "higher", 0.5),
    ("Ebig", f"chunked upload {big_mib} MiB", "ours", "dd", "MB/s", "higher", 0.5),
    ("F", f"download {big_mib} MiB (our CLI vs aria2c -x4 -s4)", "ours", "aria2c", "s", "lower", 1.0),
    ("S", f"stream {big_mib} MiB from S3 blobs (vs a direct signed GET)", "ours", "s3", "MB/s", "higher", 0.8),
    ("R", "4 KiB ranged GETs/s, limits in Redis (vs in process)", "ours", "inprocess", "req/s", "higher", 0.8),
]
scale = {"MB/s": 1e6, "req/s": 1, "MiB": 1048576, "s": 1}
table, report = [], []
for i, what, us, anchor, unit, better, target in rows:
    if i not in data: continue
    o = stat([x / scale[unit] for x in data[i][us]])
    a = stat([x / scale[unit] for x in data[i][anchor]]) if anchor else None
    ratio = o["median"] / a["median"] if a else None
    met = (ratio >= target if better == "higher" else ratio <= target) if a else o["median"] < target
    fmt = lambda s: f'{s["median"]:.1f} ({s["min"]:.1f}–{s["max"]:.1f})'
    target_s = (f"≥ {target}×" if better == "higher" else f"≤ {target}×") if a else f"< {target} {unit}"
    table.append(f'| {i} | {what} | {fmt(o)} {unit} | ' + (f'{anchor}: {fmt(a)} {unit}' if a else '–') +
                 f' | {ratio:.2f}× | {target_s} | {"yes" if met else "**no**"} |' if a else
                 f'| {i} | {what} | {fmt(o)} {unit} | – | – | {target_s} | {"yes" if met else "**no**"} |')
    report.append({"id": i, "what": what, "unit": unit, "ours": o, "anchor": anchor, "anchor_stats": a,
                   "ratio": ratio, "target": target, "better": better, "met": met})
if "F" in data and "curl" in data["F"]:
    c = stat(data["F"]["curl"])
    table.append(f'| F′ | same download with curl (one stream) | {c["median"]:.2f} ({c["min"]:.2f}–{c["max"]:.2f}) s | – | – | for reference | – |')
    report.append({"id": "F-curl", "what": "download with curl", "unit": "s", "ours": None, "anchor": "curl", "anchor_stats": c})
print("| id | measure | ours: median (min–max) | anchor: median (min–max) | ratio | target | met |")
print("|---|---|---|---|---|---|---|")
print("\n".join(table))
commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
json.dump({"quick": quick, "cores": os.cpu_count(), "commit": commit, "big_mib": big_mib, "results": report},
          open(out, "w"), indent=2)
print(f"\n(written to {out}; {os.cpu_count()} cores, commit {commit[:12]})")
PY
