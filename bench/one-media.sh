# Sourced by the request-path scripts (cpu-per-request.sh, instructions-per-request.sh):
# a work directory removed at exit (with the server in $pid, if one runs), B's one media
# (300 KB, asked for in 4 KiB ranges) in a manifest, and a free loopback port.
work=$(mktemp -d /tmp/feishu-media-one.XXXXXX)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
head -c 300000 /dev/urandom >"$work/small.bin"
cat >"$work/manifest.json" <<JSON
{"apps": [{"app_id": "cli_bench", "app_secret": "bench", "tenant_key": "bench",
           "scopes": ["drive:drive"], "rate_limit": null}],
 "documents": [{"token": "doxBench", "type": "docx", "tenant_key": "bench", "owner": "app:cli_bench"}],
 "media": [{"file_token": "boxSmall", "document": "doxBench", "parent_type": "docx_file",
            "file_name": "small.bin", "path": "small.bin"}]}
JSON
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
