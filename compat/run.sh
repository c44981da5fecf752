#!/usr/bin/env bash
# Runs the official Python (lark-oapi) and Node (@larksuiteoapi/node-sdk) SDKs against a
# real feishu-media binary, changing nothing but their base URL, a real browser
# (Debian's Chromium, through playwright-core; CHROMIUM names another binary), and
# schemathesis against its OpenAPI document (SCHEMATHESIS_SECONDS, default 60).
# Usage: compat/run.sh PATH_TO_FEISHU_MEDIA_BINARY
set -euo pipefail
bin=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"

# Installs are kept inside the repo (ignored by git) and redone only when the pins change.
if [ ! -x python/.venv/bin/python ] || ! cmp -s python/requirements.txt python/.venv/.installed; then
  rm -rf python/.venv
  python3 -m venv python/.venv
  python/.venv/bin/pip install --quiet --disable-pip-version-check -r python/requirements.txt
  cp python/requirements.txt python/.venv/.installed
fi
if [ ! -x schemathesis/.venv/bin/st ] || ! cmp -s schemathesis/requirements.txt schemathesis/.venv/.installed; then
  rm -rf schemathesis/.venv
  python3 -m venv schemathesis/.venv
  schemathesis/.venv/bin/pip install --quiet --disable-pip-version-check -r schemathesis/requirements.txt
  cp schemathesis/requirements.txt schemathesis/.venv/.installed
fi
if [ ! -d node/node_modules/@larksuiteoapi/node-sdk ] || ! cmp -s node/package-lock.json node/node_modules/.installed-lock; then
  (cd node && npm ci --no-audit --no-fund --loglevel=error)
  cp node/package-lock.json node/node_modules/.installed-lock
fi
if [ ! -d browser/node_modules/playwright-core ] || ! cmp -s browser/package-lock.json browser/node_modules/.installed-lock; then
  (cd browser && npm ci --no-audit --no-fund --loglevel=error)
  cp browser/package-lock.json browser/node_modules/.installed-lock
fi
command -v "${CHROMIUM:-chromium}" >/dev/null || { echo "no Chromium: install Debian's chromium (scripts/test.sh does)" >&2; exit 1; }

work=$(mktemp -d)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# The server picks a free port and prints it; the data dir is fresh each run.
# start NAME ARGS…: runs `serve ARGS… --listen 127.0.0.1:0` in the background, logging to
# $work/NAME.{stdout,stderr}; sets started_pid and started_base (the address it printed).
start() {
  local name=$1; shift
  "$bin" serve --listen 127.0.0.1:0 "$@" >"$work/$name.stdout" 2>"$work/$name.stderr" &
  started_pid=$! started_base=
  for _ in $(seq 1 100); do
    started_base=$(sed -n 's/^feishu-media listening on \(http:[^ ]*\).*/\1/p' "$work/$name.stdout")
    [ -n "$started_base" ] && return 0
    kill -0 "$started_pid" 2>/dev/null || break
    sleep 0.1
  done
  cat "$work/$name.stderr"; echo "$name server did not start" >&2; exit 1
}
start compat --data-dir "$work/data" --seed "$here/world.json"
server_pid=$started_pid base=$started_base

status=0
python/.venv/bin/python python/check.py "$base" "$here/fixtures" || status=1
node node/check.js "$base" "$here/fixtures" || status=1
CHROMIUM=$(command -v "${CHROMIUM:-chromium}") node browser/check.js "$base" "$here/fixtures" || status=1
# A user's "export this document with its images" script, against the demo world: the
# files it writes are the demo's media, byte for byte.
start demo --memory --demo
demo_pid=$started_pid demo=$started_base
if python/.venv/bin/python export/export_docx.py "$demo" cli_demo demo-secret doxcnDemo "$work/export" \
  && curl -sS -H "Authorization: Bearer u-demo-alice" "$demo/open-apis/drive/v1/medias/boxcnDemoImage/download" -o "$work/image" \
  && cmp -s "$work/image" "$work/export/架构图.png" \
  && grep -q "Hello from feishu-media" "$work/export/notes.txt" \
  && grep -q '"block_id": "blkDemo"' "$work/export/index.json"; then
  echo "ok   export: the demo docx with its image and file, byte for byte"
else
  echo "FAIL export: the demo docx"; ls -la "$work/export" || true; status=1
fi
kill "$demo_pid" 2>/dev/null; wait "$demo_pid" 2>/dev/null || true

# The web console in Chromium, against a demo world with the admin API on; screenshots
# of its main views go to target/console-screenshots/.
start console --memory --demo --admin-token adm-console
console_pid=$started_pid console=$started_base
CHROMIUM=$(command -v "${CHROMIUM:-chromium}") node browser/console.js "$console" adm-console "$here/../target/console-screenshots" || status=1
kill "$console_pid" 2>/dev/null; wait "$console_pid" 2>/dev/null || true

# schemathesis against /openapi.json, as the compat app: no server error, and every
# answer's status, content type, headers and body as the document describes them.
token=$(curl -sS -X POST "$base/open-apis/auth/v3/tenant_access_token/internal" \
  -H 'Content-Type: application/json' -d '{"app_id":"cli_compat","app_secret":"compat-secret"}' \
  | sed -E 's/.*"tenant_access_token":"([^"]+)".*/\1/')
schemathesis/.venv/bin/st run "$base/openapi.json" -H "Authorization: Bearer $token" \
  -c not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
  --max-time "${SCHEMATHESIS_SECONDS:-60}" --seed 1 --continue-on-failure --generation-database none \
  >"$work/schemathesis" 2>&1 && echo "schemathesis: $(grep -E '[0-9]+ generated' "$work/schemathesis" | tr -s ' ')" \
  || { cat "$work/schemathesis"; echo "FAIL schemathesis"; status=1; }
if [ "$status" -ne 0 ]; then
  echo "--- server log ---"; tail -n 40 "$work/compat.stderr"
fi
exit "$status"
