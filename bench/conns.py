#!/usr/bin/env python3
"""Bench Lmem: the anonymous memory a server holds per open, idle keep-alive connection.

    conns.py PORT PATH COUNT HEADER PID...

Opens COUNT connections to 127.0.0.1:PORT, sends one GET of PATH (with HEADER, "" for
none) on each and reads its whole answer, so every connection has served a request and
waits for the next, and reads RssAnon of the PIDs (a server and its workers) at half and
at all of them. Prints the growth per connection over the second half, in bytes. Give it
a server started for it: memory freed by earlier load would be reused and hide the cost. Loopback only; every socket is closed at the end.
"""
import selectors, socket, sys, time

port, path, count, header, pids = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5:]

def rss_anon():
    total = 0
    for pid in pids:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("RssAnon:"):
                total += int(line.split()[1]) * 1024
    return total

extra = header + "\r\n" if header else ""
request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}\r\n".encode()

def settle():
    time.sleep(1.0)
    return rss_anon()

sel = selectors.DefaultSelector()
socks = []

def open_batch(n):
    """Opens n connections and has each served one request, read to its end, so every
    one of them is back to waiting for its next request."""
    pending = {}
    deadline = time.time() + 60
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.setblocking(False)
        socks.append(s)
        s.send(request)
        pending[s] = b""
        sel.register(s, selectors.EVENT_READ)
    while pending and time.time() < deadline:
        for key, _ in sel.select(timeout=1):
            s = key.fileobj
            data = s.recv(65536)
            if not data:
                sys.exit("a connection closed before its answer")
            got = pending[s] + data
            head, sep, body = got.partition(b"\r\n\r\n")
            length = None
            for line in head.split(b"\r\n")[1:]:
                k, _, v = line.partition(b":")
                if k.strip().lower() == b"content-length":
                    length = int(v)
            if sep and length is not None and len(body) >= length:
                if not head.startswith(b"HTTP/1.1 200"):
                    sys.exit(f"answered {head.splitlines()[0]!r}")
                sel.unregister(s)
                del pending[s]
            else:
                pending[s] = got
    if pending:
        sys.exit(f"{len(pending)} answers did not come within 60 s")

# The slope between COUNT/2 and COUNT open connections: what the first ones cost includes
# what a server allocates once (threads, caches, arenas) and is left out.
half = count // 2
open_batch(half)
middle = settle()
open_batch(count - half)
after = settle()
for s in socks:
    s.close()
print(max(0, after - middle) / (count - half))
