"""Shared by the benchmarks: the machine's facts and writing one section of BENCHMARKS.md."""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
import socket
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "BENCHMARKS.md"
# The PostgreSQL server the benchmarks create their own databases on.
SERVER = os.environ.get("TALLYROOM_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432")


def fresh_database(name: str) -> None:
    """Drop and create a benchmark's own database on SERVER."""
    import psycopg

    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} CPU(s), {cpu}; {platform.platform()}; Python {platform.python_version()}; "
        f"load average at the end {load}"
    )


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def write_section(title: str, body: str) -> None:
    """Replace the `## title` section of BENCHMARKS.md (or append it)."""
    text = BENCHMARKS.read_text("utf-8") if BENCHMARKS.exists() else "# Benchmarks\n"
    section = f"## {title}\n\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    found = pattern.search(text)
    text = pattern.sub(lambda _m: section + "\n", text) if found else text.rstrip() + "\n\n" + section
    BENCHMARKS.write_text(text.rstrip() + "\n", "utf-8")
