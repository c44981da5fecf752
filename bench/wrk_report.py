#!/usr/bin/env python3
"""Reads a wrk report (with --latency) on stdin and prints one line:
"REQS_PER_S P50_MS P99_MS MAX_MS". Refuses (exit 1) a run with non-2xx answers or socket
errors, so no figure is ever made of refusals."""
import re, sys

text = sys.stdin.read()

def ms(v):
    n, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", v).groups()
    return float(n) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]

if "Non-2xx" in text or "Socket errors" in text:
    sys.stderr.write(text)
    sys.exit("wrk saw failed requests")
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
lat = re.search(r"Latency\s+(\S+)\s+(\S+)\s+(\S+)", text)
p50 = re.search(r"\s50%\s+(\S+)", text)
p99 = re.search(r"\s99%\s+(\S+)", text)
print(rps, ms(p50.group(1)) if p50 else 0, ms(p99.group(1)) if p99 else 0, ms(lat.group(3)))
