# Sourced by the by-hand request scripts (cpu-per-request.sh, cpu-vs-nginx.sh,
# catalogue-per-build.sh): starting a build of ours on loopback and asking it for the
# bench app's tenant token. The caller's EXIT trap kills "$pid".

# start_ours BIN PORT DATA_DIR SEED: BIN serving DATA_DIR (seeded from SEED) on PORT in
# the background, its pid in $pid; returns once it is ready (stderr in DATA_DIR.err).
start_ours() {
  FEISHU_MEDIA_LOG=warn "$1" serve --listen "127.0.0.1:$2" --data-dir "$3" --seed "$4" \
    >/dev/null 2>"$3.err" &
  pid=$!
  for _ in $(seq 1 1200); do
    curl -sf "http://127.0.0.1:$2/readyz" >/dev/null && return 0
    sleep 0.1
  done
  echo "$1 was not ready after 120 s" >&2
  return 1
}

# tenant_token PORT: the tenant access token of app cli_bench (secret "bench").
tenant_token() {
  curl -s -X POST "http://127.0.0.1:$1/open-apis/auth/v3/tenant_access_token/internal" \
    -d '{"app_id":"cli_bench","app_secret":"bench"}' | sed -E 's/.*"tenant_access_token":"([^"]+)".*/\1/'
}
