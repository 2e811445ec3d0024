#!/usr/bin/env python3
"""A Finish Line worker in Python, standard library only, over the lease API.

It leases cells, paints them (a colour for a colours batch, a Mandelbrot tile rendered exactly as the
contract's geometry says for a picture), and completes the lease. Run as many as you like, anywhere
that reaches the web server:

    WORKER_TOKEN=secret FINISH_LINE_URL=http://127.0.0.1:3000 python3 examples/python/worker.py

Settings (environment): FINISH_LINE_URL (default http://127.0.0.1:3000), WORKER_TOKEN (required),
WORKER_NAME (default python-<pid>; it shows on the dashboard as lease-<name>), TAG (default
"default"), MAX (cells per lease, default 50), LEASE_SECONDS (default 60).

If it dies, nothing is lost: the cells it held come back to the queue when its lease expires.
"""

import base64
import json
import math
import os
import random
import signal
import struct
import sys
import time
import urllib.error
import urllib.request
import zlib

URL = os.environ.get("FINISH_LINE_URL", "http://127.0.0.1:3000").rstrip("/")
TOKEN = os.environ.get("WORKER_TOKEN", "")
NAME = os.environ.get("WORKER_NAME", f"python-{os.getpid()}")
TAG = os.environ.get("TAG", "default")
MAX = int(os.environ.get("MAX", "50"))
LEASE_SECONDS = int(os.environ.get("LEASE_SECONDS", "60"))

stopping = False


def on_signal(signum, _frame):
    # Finish the lease in hand, then stop: its cells are recorded rather than left to expire.
    global stopping
    stopping = True


def call(path, body):
    """POSTs JSON to the API; returns (status, parsed body, headers)."""
    request = urllib.request.Request(
        URL + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.load(response), response.headers
    except urllib.error.HTTPError as err:
        try:
            answer = json.load(err)
        except ValueError:
            answer = {"error": {"code": "http_" + str(err.code), "message": err.reason}}
        return err.code, answer, err.headers
    except (urllib.error.URLError, OSError) as err:
        # The server is unreachable (restarting, say): status 0, tried again like a server error.
        return 0, {"error": {"code": "unreachable", "message": str(err)}}, {}


# ---- Painting --------------------------------------------------------------------------------


def escape_time(re, im, max_iterations):
    """The step n after which |z|^2 > 4 first holds, or -1 if never (the point is inside).

    The same operations in the same order as the server's own renderer, so that every pixel is
    classified exactly as the contract says (and as the TypeScript workers do)."""
    zr = 0.0
    zi = 0.0
    for n in range(1, max_iterations + 1):
        nzr = zr * zr - zi * zi + re
        zi = 2 * zr * zi + im
        zr = nzr
        if zr * zr + zi * zi > 4:
            return n
    return -1


def outside_colour(n):
    """Any colour but black will do for a point outside (black means inside): a calm blue-gold cycle."""
    t = math.sqrt(n) * 0.15
    r = int(127 + 127 * math.sin(t * 2.0 + 4.0))
    g = int(127 + 127 * math.sin(t * 2.0 + 2.0))
    b = int(127 + 127 * math.sin(t * 2.0 + 0.5))
    if r == 0 and g == 0 and b == 0:
        b = 1
    return r, g, b


def render_tile(cell):
    """The tile of cell (row, col): tileSize x tileSize RGB pixels, rows from the top."""
    view, size = cell["view"], cell["tileSize"]
    width, height = cell["cols"] * size, cell["rows"] * size
    s = view["width"] / width
    pixels = bytearray()
    for py in range(cell["row"] * size, (cell["row"] + 1) * size):
        im = view["y"] - (py + 0.5 - height / 2) * s
        for px in range(cell["col"] * size, (cell["col"] + 1) * size):
            re = view["x"] + (px + 0.5 - width / 2) * s
            n = escape_time(re, im, cell["maxIterations"])
            pixels += bytes((0, 0, 0) if n < 0 else outside_colour(n))
    return size, pixels


def png(size, rgb):
    """An 8-bit RGB PNG: each row behind filter byte 0, the whole deflated once."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    stride = size * 3
    raw = b"".join(b"\x00" + bytes(rgb[y * stride : (y + 1) * stride]) for y in range(size))
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def paint(cell):
    place = {"batchId": cell["batchId"], "row": cell["row"], "col": cell["col"]}
    try:
        if cell["kind"] == "mandelbrot":
            size, rgb = render_tile(cell)
            return {**place, "tile": base64.b64encode(png(size, rgb)).decode()}
        return {**place, "color": "#%06X" % random.randrange(0x1000000)}
    except Exception as err:  # the cell's own work failed: it is retried, then marked failed
        return {**place, "error": f"{type(err).__name__}: {err}"}


# ---- The loop ---------------------------------------------------------------------------------


def main():
    if not TOKEN:
        sys.exit("Set WORKER_TOKEN to the server's WORKER_TOKEN (the lease API needs it).")
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print(f"{NAME}: leasing cells tagged {TAG!r} from {URL}", flush=True)
    painted = 0
    while not stopping:
        status, answer, headers = call("/api/leases", {"tag": TAG, "max": MAX, "leaseSeconds": LEASE_SECONDS, "worker": NAME})
        if status == 429:
            time.sleep(float(headers.get("Retry-After", "1")))
            continue
        if status in (401, 404):
            sys.exit(f"{NAME}: the lease API said {status}: {answer['error']['message']}")
        if status != 200:
            print(f"{NAME}: lease failed ({status}): {answer}; trying again", file=sys.stderr, flush=True)
            time.sleep(1)
            continue
        cells = answer["cells"]
        if not cells:
            time.sleep(0.5)
            continue
        results = [paint(cell) for cell in cells]
        painted += complete(answer["leaseId"], results)
    print(f"{NAME}: stopped after painting {painted} cells", flush=True)


def complete(lease_id, results):
    """Completes a lease; returns the cells recorded. A completion may be sent again (the server records
    each cell once), so a 429 or a server error is waited out and retried, until the lease ends."""
    while True:
        status, done, headers = call(f"/api/leases/{lease_id}/complete", {"results": results})
        if status == 200:
            return done["recorded"]
        if status == 409:
            # Took longer than the lease: its cells went to another worker; lease fewer next time.
            print(f"{NAME}: lease {lease_id} expired before it was completed", file=sys.stderr, flush=True)
            return 0
        if status in (0, 429) or status >= 500:
            time.sleep(float(headers.get("Retry-After", "1")))
            continue
        print(f"{NAME}: completing failed ({status}): {done}", file=sys.stderr, flush=True)
        return 0


if __name__ == "__main__":
    main()
