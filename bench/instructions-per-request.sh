#!/usr/bin/env bash
# User-space instructions the server executes per request, counted by valgrind's
# callgrind over B's request (a 4 KiB ranged GET of one media, keep-alive), for each
# build given. Exact and repeatable where CPU time on these machines is not (two runs of
# bench/cpu-per-request.sh can differ by 30%): the figure to compare request-path
# changes by. It leaves out the kernel's share (send, receive, epoll), and SHA-256 runs
# its portable code under valgrind (the real CPU's SHA extensions are not used), so it
# over-counts the token hash.
#
#   bench/instructions-per-request.sh BIN... [-- N]   (N requests per count, default 2000)
#
# Each build is counted at N and 2N requests; the difference over N is the figure (the
# start-up and shutdown cancel out). Keep the callgrind files with KEEP=dir, for
# callgrind_annotate --inclusive=yes. Loopback only; each run is bounded by its count.
#
# The whole process's count varies by ±700–1 500 between identical runs (the runtime's
# batching, timers, malloc's history). For changes smaller than that, count only the
# connection tasks, with one client: CONNECTIONS_ONLY=1 CLIENTS=1 (±350 seen; the
# runtime's own share is then left out, so compare such figures only with each other).
set -euo pipefail
bins=()
n=2000
while [ $# -gt 0 ]; do
  case $1 in
    --) n=$2; shift 2 ;;
    *) bins+=("$1"); shift ;;
  esac
done
[ ${#bins[@]} -ge 1 ] || { sed -n 2,19p "$0"; exit 2; }
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 1; }
# shellcheck source=one-media.sh
source "$(dirname "$0")/one-media.sh"

# count BIN REQUESTS: the instructions callgrind counted from the first request to exit.
count() {
  rm -rf "$work/data"
  local toggle=()
  [ -n "${CONNECTIONS_ONLY:-}" ] &&
    toggle=(--toggle-collect='feishu_media_server::connection_threads::ConnectionThreads::serve::{{closure}}')
  FEISHU_MEDIA_LOG=warn valgrind --tool=callgrind "${toggle[@]}" --callgrind-out-file="$work/cg.out" \
    "$1" serve --listen "127.0.0.1:$port" --data-dir "$work/data" \
    --seed "$work/manifest.json" >/dev/null 2>"$work/err" &
  pid=$!
  for _ in $(seq 1 600); do
    curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break
    sleep 0.2
  done
  callgrind_control -z "$pid" >/dev/null 2>&1
  python3 - "$port" "$2" "${CLIENTS:-4}" <<'PY'
import http.client, json, sys, threading
port, n, clients = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
c = http.client.HTTPConnection("127.0.0.1", port)
c.request("POST", "/open-apis/auth/v3/tenant_access_token/internal",
          body=json.dumps({"app_id": "cli_bench", "app_secret": "bench"}))
token = json.loads(c.getresponse().read())["tenant_access_token"]
def run(k):
    c = http.client.HTTPConnection("127.0.0.1", port)
    for _ in range(k):
        c.request("GET", "/open-apis/drive/v1/medias/boxSmall/download",
                  headers={"Authorization": "Bearer " + token, "Range": "bytes=4096-8191"})
        r = c.getresponse()
        body = r.read()
        assert r.status == 206 and len(body) == 4096, r.status
threads = [threading.Thread(target=run, args=(n // clients,)) for _ in range(clients)]
for t in threads: t.start()
for t in threads: t.join()
PY
  kill -INT "$pid"; wait "$pid" 2>/dev/null || true; pid=
  [ -n "${KEEP:-}" ] && cp "$work/cg.out" "$KEEP/callgrind.$(basename "$1").$2"
  awk '/^summary:|^totals:/ {print $2; exit}' "$work/cg.out"
}

for bin in "${bins[@]}"; do
  one=$(count "$bin" "$n")
  two=$(count "$bin" $((2 * n)))
  echo "$bin: $(((two - one) / n)) instructions per request (user space; $n and $((2 * n)) requests: $one, $two)"
done
