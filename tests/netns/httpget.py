#!/usr/bin/env python3
"""HTTP GET with an end-to-end checksum and stall measurement, for the namespace tests.

  httpget.py URL [--rate BYTES_PER_S] [--timeout S]

Downloads URL (http://host:port/path, IPv6 hosts in brackets), hashing the body as it arrives,
and prints one JSON line:
  {"status", "bytes", "sha256", "seconds", "mbit_s", "ttfb", "max_wait"}
seconds: request sent to last byte; ttfb: request sent to the first body byte; max_wait: the
longest single wait for data from the network (the reader's own pacing sleeps excluded), so a
stall of the path shows up even in a paced download. --rate paces the reader (TCP flow control
then paces the sender). Every socket operation, and the whole download, is bounded by
--timeout (default 60 s). Exit status 0 when the status is 200 and the body has the advertised
Content-Length; 1 otherwise (the error is printed to stderr, the JSON line still printed when
any of the body arrived).
"""

import argparse
import hashlib
import http.client
import json
import sys
import time
import urllib.parse

CHUNK = 64 * 1024


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("url")
    p.add_argument("--rate", type=float, default=0, help="bytes per second, 0 = unlimited")
    p.add_argument("--timeout", type=float, default=60)
    args = p.parse_args()
    u = urllib.parse.urlsplit(args.url)
    path = u.path or "/"
    if u.query:
        path += "?" + u.query
    deadline = time.monotonic() + args.timeout
    h = hashlib.sha256()
    total = 0
    max_wait = 0.0
    ttfb = None
    status = None
    start = time.monotonic()
    error = None
    try:
        conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=min(args.timeout, 15))
        conn.request("GET", path, headers={"Connection": "close"})
        sock = conn.sock  # http.client lets go of it once the response is read to the end
        resp = conn.getresponse()
        status = resp.status
        length = resp.getheader("Content-Length")
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"download timed out after {total} bytes")
            sock.settimeout(remaining)
            t0 = time.monotonic()
            data = resp.read1(CHUNK)
            t1 = time.monotonic()
            if not data:
                break
            max_wait = max(max_wait, t1 - t0)
            if ttfb is None:
                ttfb = t1 - start
            h.update(data)
            total += len(data)
            if args.rate > 0:
                ahead = total / args.rate - (time.monotonic() - start)
                if ahead > 0:
                    time.sleep(min(ahead, max(0.0, deadline - time.monotonic())))
        conn.close()
        if status != 200:
            error = f"HTTP status {status}"
        elif length is not None and int(length) != total:
            error = f"short body: {total} of {length} bytes"
    except Exception as e:  # noqa: BLE001 - report any failure as one line and a status
        error = f"{type(e).__name__}: {e}"
    elapsed = time.monotonic() - start
    if status is not None:
        print(json.dumps({"status": status, "bytes": total, "sha256": h.hexdigest(),
                          "seconds": round(elapsed, 3),
                          "mbit_s": round(total * 8 / elapsed / 1e6, 1) if elapsed > 0 else 0.0,
                          "ttfb": round(ttfb, 3) if ttfb is not None else None,
                          "max_wait": round(max_wait, 3)}), flush=True)
    if error:
        print(f"httpget.py: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
