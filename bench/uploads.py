#!/usr/bin/env python3
"""Bench U: COUNT chunked uploads of one 4 MiB block each, all at once, and the server's
anonymous memory while they run and once they are done.

    uploads.py BASE_URL TOKEN PID COUNT

Prepares COUNT uploads, then sends every block at the same moment (one thread each, held
at a barrier), then finishes them all and checks each answered a file token. Prints
"START PEAK AFTER" in bytes: RssAnon before, its highest while the uploads ran (sampled
every 10 ms), and 3 s after the last finished. Loopback only; bounded by socket timeouts.
"""
import http.client, json, os, sys, threading, time, urllib.parse, zlib

base, token, pid, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
url = urllib.parse.urlsplit(base)
BLOCK = 4 * 1024 * 1024
shared = os.urandom(BLOCK - 16)

def rss_anon():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) * 1024
    return 0

def call(method, path, body, content_type):
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
    conn.request(method, path, body, {"Authorization": f"Bearer {token}", "Content-Type": content_type})
    answer = json.loads(conn.getresponse().read())
    conn.close()
    if answer.get("code") != 0:
        raise SystemExit(f"{path}: {answer}")
    return answer["data"]

def prepare(i):
    body = json.dumps({"file_name": f"u{i}.bin", "parent_type": "ccm_import_open", "parent_node": "", "size": BLOCK})
    return call("POST", "/open-apis/drive/v1/medias/upload_prepare", body, "application/json")["upload_id"]

def part(upload_id, i):
    block = i.to_bytes(16, "big") + shared  # a distinct blob per upload
    boundary = f"bench{i:08d}"
    fields = {"upload_id": upload_id, "seq": "0", "size": str(BLOCK), "checksum": str(zlib.adler32(block))}
    head = b"".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
                    for k, v in fields.items())
    head += f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="u{i}.bin"\r\n' \
            f'Content-Type: application/octet-stream\r\n\r\n'.encode()
    body = head + block + f"\r\n--{boundary}--\r\n".encode()
    call("POST", "/open-apis/drive/v1/medias/upload_part", body, f"multipart/form-data; boundary={boundary}")

def finish(upload_id):
    body = json.dumps({"upload_id": upload_id, "block_num": 1})
    return call("POST", "/open-apis/drive/v1/medias/upload_finish", body, "application/json")["file_token"]

start = rss_anon()
ids = [prepare(i) for i in range(count)]
peak, running = [start], [True]
def sample():
    while running[0]:
        peak[0] = max(peak[0], rss_anon())
        time.sleep(0.01)
sampler = threading.Thread(target=sample)
sampler.start()
gate = threading.Barrier(count)
errors = []
def one(i):
    try:
        gate.wait()
        part(ids[i], i)
    except BaseException as e:  # noqa: BLE001 - reported below
        errors.append(e)
threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
for t in threads: t.start()
for t in threads: t.join()
tokens = [finish(u) for u in ids] if not errors else []
running[0] = False
sampler.join()
if errors:
    raise SystemExit(f"{len(errors)} uploads failed: {errors[0]}")
if len(set(tokens)) != count:
    raise SystemExit("the uploads did not give distinct file tokens")
time.sleep(3)
print(start, peak[0], rss_anon())
