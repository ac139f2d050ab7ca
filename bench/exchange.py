#!/usr/bin/env python3
"""Documents through the whole exchange, end to end: a clerk of instance A (the demo province)
issues signed documents to an agency of instance B (a district), each instance its own
`vanban serve` process and database, a `vanban hub` between them. Measured per document: from
the start of the issue request at A to B's record of its arrival (B's `arrived_at`, same
machine clock). That covers numbering, the agency PAdES signature, transaction B, the outbox,
the edXML package (built, signed), the hub, B's poll, the package's XML-DSig and PDF signature
validation and B's incoming document with status 01 queued back.

    bench/exchange.py VANBAN_BINARY DOCS CLERKS [postgres://…]   (called by bench/exchange.sh)
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime

BIN, DOCS, CLERKS = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
PG = sys.argv[4] if len(sys.argv) > 4 else None
B_CODE = "000.00.77.H58"
SECRETS = {"tinh": "tinh-binh-an-secret-0001", "huyen": "huyen-hoa-binh-secret-02"}


def run(*args, stdin=None):
    env = dict(os.environ, RUST_LOG="error")
    env.pop("VANBAN_CONFIG", None)
    p = subprocess.run([BIN, *args], input=stdin, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        sys.exit(f"{' '.join(args)}: {p.stdout}{p.stderr}")
    return p.stdout


def start(*args):
    env = dict(os.environ, RUST_LOG="error")
    env.pop("VANBAN_CONFIG", None)
    p = subprocess.Popen([BIN, *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    line = p.stdout.readline().strip()
    return p, line.split("http://", 1)[-1].rstrip("/")


def http(addr, method, path, body=None, cookie="", csrf=""):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"http://{addr}{path}", data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if cookie:
        req.add_header("Cookie", cookie)
    if csrf:
        req.add_header("X-CSRF-Token", csrf)
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def login(addr, user):
    st, headers, body = http(addr, "POST", "/api/v1/session", {"username": user, "password": "vanban@2026"})
    assert st == 200, body
    cookie = [v for k, v in headers.items() if k.lower() == "set-cookie" and v.startswith("vanban_session=")][0]
    return cookie.split(";")[0], json.loads(body)["csrf_token"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def db_url(name):
    if not PG:
        return []
    base = PG.rsplit("/", 1)[0]
    subprocess.run(["psql", PG, "-qc", f"DROP DATABASE IF EXISTS {name}"], check=True, capture_output=True)
    subprocess.run(["psql", PG, "-qc", f"CREATE DATABASE {name}"], check=True, capture_output=True)
    return ["--database-url", f"{base}/{name}"]


def main():
    tmp = tempfile.mkdtemp(prefix="vanban-exchange-bench-")
    a, b, h = (os.path.join(tmp, x) for x in ("a", "b", "hub"))
    da, db, dh = db_url("bench_ex_a"), db_url("bench_ex_b"), db_url("bench_ex_hub")
    t = time.time()
    run("demo", "--no-serve", "--no-history", "--data-dir", a, *da)
    ids = run("seed-signed", "--count", str(DOCS - 1), "--data-dir", a, *da).split()
    run("admin", "create-agency", "--data-dir", b, *db, "--code", B_CODE, "--name", "UBND huyện Hòa Bình",
        "--abbreviation", "UBND", "--level", "district", "--place", "Hòa Bình")
    run("admin", "create-user", "--data-dir", b, *db, "--agency-code", B_CODE, "--username", "hb.vanthu",
        "--full-name", "Lê Thị Văn Thư", "--role", "clerk", "--password-stdin", stdin="vanban@2026\n")
    seeding = time.time() - t
    roots = {}
    for name, d, extra in (("a", a, da), ("b", b, db)):
        p, addr = start("serve", "--data-dir", d, "--listen", "127.0.0.1:0", *extra)
        roots[name] = http(addr, "GET", "/pki/ca/root.pem")[2].decode()
        p.kill()
        p.wait()
    port = free_port()
    for me, other, system in (("a", "b", "tinh"), ("b", "a", "huyen")):
        anchor = os.path.join(tmp, f"{other}-root.pem")
        with open(anchor, "w") as f:
            f.write(roots[other])
        with open(os.path.join(tmp, f"{me}.toml"), "w") as f:
            f.write(f'trust_anchors = ["{anchor}"]\n\n[exchange]\nendpoint = "http://127.0.0.1:{port}"\n'
                    f'system_id = "{system}"\nsecret = "{SECRETS[system]}"\npoll_wait_ms = 5000\n')
    hub, _ = start("hub", "--listen", f"127.0.0.1:{port}", "--data-dir", h, *dh,
                   "--system", f"tinh:{SECRETS['tinh']}", "--system", f"huyen:{SECRETS['huyen']}")
    pa, addr_a = start("serve", "--data-dir", a, "--listen", "127.0.0.1:0", "--config", os.path.join(tmp, "a.toml"), *da)
    pb, addr_b = start("serve", "--data-dir", b, "--listen", "127.0.0.1:0", "--config", os.path.join(tmp, "b.toml"), *db)
    try:
        clerk = login(addr_a, "vanthu")
        b_clerk = login(addr_b, "hb.vanthu")
        # The first issue unlocks the agency key (argon2 on the PIN): outside the measurement.
        st, _, body = http(addr_a, "POST", f"/api/v1/documents/{ids[0]}/issue",
                           {"pin": "123456", "recipients": [B_CODE]}, *clerk)
        assert st == 201, body
        time.sleep(2)  # the directory registered, the first package through
        queue = list(ids[1:])
        started, symbol_of = {}, {}
        lock = threading.Lock()

        def clerk_loop():
            while True:
                with lock:
                    if not queue:
                        return
                    doc = queue.pop()
                    started[doc] = time.time()
                st, _, body = http(addr_a, "POST", f"/api/v1/documents/{doc}/issue",
                                   {"pin": "123456", "recipients": [B_CODE]}, *clerk)
                assert st == 201, body
                with lock:
                    symbol_of[json.loads(body)["entry"]["symbol"]] = doc

        t0 = time.time()
        threads = [threading.Thread(target=clerk_loop) for _ in range(CLERKS)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        issued = time.time() - t0
        n = len(ids) - 1
        def all_incoming():
            # The API gives at most 1000 a page.
            items = []
            while True:
                st, _, body = http(addr_b, "GET", f"/api/v1/incoming?limit=1000&offset={len(items)}", None, *b_clerk)
                page = json.loads(body)
                items += page
                if len(page) < 1000:
                    # Arrivals while paging shift the pages: count each document once.
                    return list({it["symbol"]: it for it in items}.values())

        while True:
            items = all_incoming()
            if len(items) >= DOCS:
                break
            if time.time() - t0 > 600:
                sys.exit(f"only {len(items)} of {DOCS} arrived in 10 minutes")
            time.sleep(0.2)
        lat, last = [], 0.0
        for it in items:
            doc = symbol_of.get(it["symbol"])
            if doc is None:
                continue  # the warm-up document
            arrived = datetime.fromisoformat(it["arrived_at"].replace("Z", "+00:00")).timestamp()
            lat.append(arrived - started[doc])
            last = max(last, arrived)
        lat.sort()
        total = last - t0
        p = lambda q: lat[min(int(len(lat) * q), len(lat) - 1)] * 1000
        backend = "PostgreSQL" if PG else "SQLite"
        print(f"  {backend:<10} {n} documents: issued in {issued:.2f} s ({n / issued:.1f}/s), all arrived at B in "
              f"{total:.2f} s = {n / total:.1f} documents/s end to end   p50 {p(0.5):.0f} ms  p99 {p(0.99):.0f} ms"
              f"   (seeding {seeding:.1f} s)")
    finally:
        for proc in (pa, pb, hub):
            proc.kill()
            proc.wait()


main()
