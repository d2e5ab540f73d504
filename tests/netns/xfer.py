#!/usr/bin/env python3
"""Bulk TCP transfer with an end-to-end checksum, for the namespace tests.

  xfer.py recv --bind ADDR --port P --ready FILE [--timeout S] [--progress FILE]
      Listen, create FILE once listening, accept one connection, read to EOF, print one JSON
      line {"role","bytes","sha256","seconds","mbit_s","max_wait"} and exit. max_wait: the
      longest single wait for data once the first byte arrived (a stall of the path shows up
      in it however slow or paced the transfer is). With --progress, the number of bytes
      received so far is written to that file (replaced atomically) every ~0.1 s.
  xfer.py send --host ADDR --port P --bytes N [--seed S] [--rate BYTES_PER_S] [--timeout S]
      Connect, send N bytes of deterministic pseudo-random data (seeded), half-close, wait for
      the receiver to close, print the same JSON line for what was sent.

Every socket operation is bounded by --timeout (default 60 s, covering the whole transfer).
Exit status: 0 on success, 1 on any error (the error is printed to stderr).
"""

import argparse
import hashlib
import json
import os
import random
import socket
import sys
import time

CHUNK = 64 * 1024


def result(role, nbytes, digest, seconds, **extra):
    mbit = (nbytes * 8 / seconds / 1e6) if seconds > 0 else 0.0
    r = {"role": role, "bytes": nbytes, "sha256": digest, "seconds": round(seconds, 3),
         "mbit_s": round(mbit, 1)}
    r.update(extra)
    print(json.dumps(r), flush=True)


def write_progress(path, nbytes):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"{nbytes}\n")
    os.replace(tmp, path)


def family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def recv(args):
    deadline = time.monotonic() + args.timeout
    srv = socket.socket(family_of(args.bind), socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((args.bind, args.port))
    srv.listen(1)
    srv.settimeout(args.timeout)
    with open(args.ready, "w") as f:
        f.write("listening\n")
    conn, _ = srv.accept()
    srv.close()
    h = hashlib.sha256()
    total = 0
    start = None
    max_wait = 0.0
    next_progress = 0.0
    if args.progress:
        write_progress(args.progress, 0)
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"receive timed out after {total} bytes")
        conn.settimeout(remaining)
        t0 = time.monotonic()
        data = conn.recv(CHUNK * 4)
        t1 = time.monotonic()
        if not data:
            break
        if start is None:
            start = t1
        else:
            max_wait = max(max_wait, t1 - t0)
        h.update(data)
        total += len(data)
        if args.progress and t1 >= next_progress:
            write_progress(args.progress, total)
            next_progress = t1 + 0.1
    elapsed = time.monotonic() - start if start is not None else 0.0
    conn.close()
    if args.progress:
        write_progress(args.progress, total)
    result("recv", total, h.hexdigest(), elapsed, max_wait=round(max_wait, 3))


def send(args):
    deadline = time.monotonic() + args.timeout
    rng = random.Random(args.seed)
    sock = socket.create_connection((args.host, args.port), timeout=min(args.timeout, 15))
    h = hashlib.sha256()
    sent = 0
    start = time.monotonic()
    while sent < args.bytes:
        n = min(CHUNK, args.bytes - sent)
        block = rng.randbytes(n)
        h.update(block)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"send timed out after {sent} bytes")
        sock.settimeout(remaining)
        sock.sendall(block)
        sent += n
        if args.rate > 0:
            ahead = sent / args.rate - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)
    sock.shutdown(socket.SHUT_WR)
    # Wait for the receiver to close: then every byte has been read by it.
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("timed out waiting for the receiver to close")
        sock.settimeout(remaining)
        if not sock.recv(4096):
            break
    elapsed = time.monotonic() - start
    sock.close()
    result("send", sent, h.hexdigest(), elapsed)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("recv")
    r.add_argument("--bind", required=True)
    r.add_argument("--port", type=int, required=True)
    r.add_argument("--ready", required=True)
    r.add_argument("--timeout", type=float, default=60)
    r.add_argument("--progress", help="file to write the byte count received so far to")
    s = sub.add_parser("send")
    s.add_argument("--host", required=True)
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--bytes", type=int, required=True)
    s.add_argument("--seed", type=int, default=241)
    s.add_argument("--rate", type=float, default=0, help="bytes per second, 0 = unlimited")
    s.add_argument("--timeout", type=float, default=60)
    args = p.parse_args()
    try:
        recv(args) if args.cmd == "recv" else send(args)
    except Exception as e:  # noqa: BLE001 - report any failure as one line and a status
        print(f"xfer.py {args.cmd}: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
