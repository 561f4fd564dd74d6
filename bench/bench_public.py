"""Election-night reads: a municipality page and its JSON, from Tallyroom and from nginx, with wrk.

    .venv/bin/python bench/bench_public.py

Loads the demo (the real 2013 election with its whole count) into its own PostgreSQL database
`tallyroom_bench_public`, publishes a full snapshot (timed: that is the cold-start figure), then in
the same run serves the same snapshot with `tallyroom serve` (gunicorn + the snapshot layer) and with
nginx (the baseline a static host gives), and drives both with wrk (64 connections, loopback). The
bodies are compared first: both must answer the same bytes. Needs Debian's nginx and wrk.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import SERVER, free_port, fresh_database, machine, now, write_section

ROOT = Path(__file__).resolve().parents[1]
TALLYROOM = str(ROOT / ".venv" / "bin" / "tallyroom")
DB = "tallyroom_bench_public"
ELECTION = "ks-2013-local"
MUNICIPALITY = "19"  # Pristina: the largest municipality, runoff and all

NGINX_CONF = """
worker_processes {workers};
pid {work}/nginx.pid;
error_log {work}/nginx-error.log;
events {{ worker_connections 1024; }}
http {{
  include /etc/nginx/mime.types;
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  server {{
    listen 127.0.0.1:{port};
    root {site};
    location / {{ try_files $uri $uri/index.html =404; }}
  }}
}}
"""


def wait_for(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - loopback
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer")


def body_sha(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback
        return hashlib.sha256(response.read()).hexdigest()


def wrk(url: str, seconds: int, connections: int, threads: int) -> tuple[float, float, float, int]:
    """requests/s, p50 ms, p99 ms, non-2xx count."""
    subprocess.run(
        ["wrk", "-t", str(threads), "-c", str(connections), "-d", "2s", url], capture_output=True, check=True
    )
    out = subprocess.run(
        ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return rps, _ms(out, "50%"), _ms(out, "99%"), int(errors.group(1)) if errors else 0


def _ms(out: str, pct: str) -> float:
    value, unit = re.search(rf"{pct}\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def main() -> None:  # noqa: PLR0915 - one linear script
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers and nginx worker processes")
    parser.add_argument("--repeat", type=int, default=3, help="runs per server and path; the best is kept")
    parser.add_argument("--reuse", action="store_true", help="keep the database and snapshot of an earlier run")
    parser.add_argument("--no-write", action="store_true", help="print, do not update BENCHMARKS.md")
    args = parser.parse_args()
    if not (shutil.which("nginx") and shutil.which("wrk")):
        raise SystemExit("needs nginx and wrk: apt-get install nginx-light wrk")

    work = Path(os.environ.get("TALLYROOM_BENCH_DIR", Path(tempfile.gettempdir()) / "tallyroom-bench-public"))
    env = {**os.environ, "DATABASE_URL": f"{SERVER}/{DB}", "TALLYROOM_DATA_DIR": str(work)}
    snapshots = work / "snapshots"
    timings: dict[str, float] = {}
    if not args.reuse or not (snapshots / "current").exists():
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        fresh_database(DB)
        t = time.perf_counter()
        subprocess.run([TALLYROOM, "demo", "--no-serve"], env=env, cwd=work, check=True, stdout=subprocess.DEVNULL)
        timings["demo"] = time.perf_counter() - t
        t = time.perf_counter()
        subprocess.run([TALLYROOM, "publish"], env=env, cwd=work, check=True)
        timings["publish"] = time.perf_counter() - t
        (work / "timings.json").write_text(json.dumps(timings))
    elif (work / "timings.json").exists():  # --reuse: the cold-start figures of the run that built it
        timings = json.loads((work / "timings.json").read_text())
    site = (snapshots / "current").resolve()
    files = sum(1 for p in site.rglob("*") if p.is_file())

    port_t, port_n = free_port(), free_port()
    conf = work / "nginx.conf"
    conf.write_text(NGINX_CONF.format(workers=args.workers, work=work, port=port_n, site=site))
    nginx = subprocess.Popen(["nginx", "-c", str(conf), "-g", "daemon off;"])
    server = subprocess.Popen(
        [TALLYROOM, "serve", "--no-publish", "--port", str(port_t), "--workers", str(args.workers), "--threads", "1"],
        env=env,
        cwd=work,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
    )
    results = []
    try:
        paths = {
            "municipality page": f"/elections/{ELECTION}/{MUNICIPALITY}/",
            "municipality JSON": f"/data/{ELECTION}/{MUNICIPALITY}/results.json",
        }
        for name, path in paths.items():
            tallyroom_url, nginx_url = f"http://127.0.0.1:{port_t}{path}", f"http://127.0.0.1:{port_n}{path}"
            wait_for(tallyroom_url)
            wait_for(nginx_url)
            same = body_sha(tallyroom_url) == body_sha(nginx_url)
            if not same:
                raise SystemExit(f"{path}: Tallyroom and nginx answer different bytes")
            size = len(urllib.request.urlopen(tallyroom_url).read())
            # Alternate the two servers and keep each one's best run: background noise on a shared
            # machine then penalises neither side more than the other.
            t_runs, n_runs = [], []
            for _ in range(args.repeat):
                t_runs.append(wrk(tallyroom_url, args.seconds, args.connections, 2))
                n_runs.append(wrk(nginx_url, args.seconds, args.connections, 2))
            t_rps, t_p50, t_p99, t_err = max(t_runs)
            n_rps, n_p50, n_p99, n_err = max(n_runs)
            results.append((name, path, size, t_rps, t_p50, t_p99, t_err, n_rps, n_p50, n_p99, n_err))
            print(f"{name}: tallyroom {t_rps:.0f} req/s p99 {t_p99:.1f} ms; nginx {n_rps:.0f} req/s p99 {n_p99:.1f} ms")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        nginx.send_signal(signal.SIGQUIT)
        server.wait(timeout=30)
        nginx.wait(timeout=30)

    rows = "\n".join(
        f"| {name} (`{path}`, {size:,} B) | {t_rps:,.0f} | {t_p50:.1f} | {t_p99:.1f} | {n_rps:,.0f} | {n_p50:.1f} | "
        f"{n_p99:.1f} | **{t_rps / n_rps:.2f}** | {t_err + n_err} |"
        for name, path, size, t_rps, t_p50, t_p99, t_err, n_rps, n_p50, n_p99, n_err in results
    )
    cold = (
        f"Demo load and count {timings['demo']:.0f} s; first full snapshot (`tallyroom publish`) "
        f"{timings['publish']:.0f} s for {files:,} files.\n\n"
        if timings
        else ""
    )
    body = f"""
Command: `.venv/bin/python bench/bench_public.py --seconds {args.seconds} --connections {args.connections} \
--workers {args.workers} --repeat {args.repeat}` ({now()}; {machine()}).

The demo election on PostgreSQL, published as a snapshot; Tallyroom (`tallyroom serve`: granian with
{args.workers} workers, public paths answered from the snapshot in memory before Django) and nginx
({args.workers} worker processes, sendfile) serve the same snapshot folder in the same run, one after
the other; wrk with {args.connections} connections and 2 threads on the same 2-core machine, loopback,
{args.seconds} s each after a 2 s warm-up, alternating, {args.repeat} runs each, best run kept. Both answered
byte-identical bodies (checked first).

{cold}| Path | Tallyroom req/s | p50 ms | p99 ms | nginx req/s | p50 ms | p99 ms | ratio | errors |
|---|---:|---:|---:|---:|---:|---:|---:|---:|
{rows}
"""
    print(body)
    if not args.no_write:
        write_section("Public read path (wrk, Tallyroom vs nginx)", body)


if __name__ == "__main__":
    main()
