"""Shared by the benchmarks: the machine's facts and writing one section of BENCHMARKS.md."""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
import socket
import threading
from collections.abc import Callable
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


def django_setup(database: str) -> None:
    """Point Django at a benchmark's own database on SERVER and set it up."""
    os.environ["DATABASE_URL"] = f"{SERVER}/{database}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "tallyroom.settings"
    os.environ.setdefault("TALLYROOM_SECRET_KEY", "bench-" + "x" * 50)
    import django

    django.setup()


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


class MemorySampler(threading.Thread):
    """Peak resident set size (VmRSS) per group of processes, read from /proc twice a second.
    `group(pid, own pid, command line)` names a process's group, or None to leave it out."""

    def __init__(self, group: Callable[[int, int, str], str | None]) -> None:
        super().__init__(daemon=True)
        self.group = group
        self.peaks: dict[str, int] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.5):
            self.sample()

    def sample(self) -> None:
        me = os.getpid()
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                rss = next(
                    int(line.split()[1]) * 1024
                    for line in (proc / "status").read_text().splitlines()
                    if line.startswith("VmRSS:")
                )
            except (OSError, StopIteration):
                continue
            name = self.group(int(proc.name), me, cmd)
            if name:
                self.peaks[name] = max(self.peaks.get(name, 0), rss)

    def table(self) -> str:
        rows = "\n".join(f"| {g} | {v / 2**20:,.0f} MiB |" for g, v in sorted(self.peaks.items()))
        return "| Process | Peak |\n|---|---:|\n" + rows + "\n"


def postgres_group(cmd: str) -> str | None:
    if cmd.startswith("postgres:"):
        return "PostgreSQL backend or helper (each)"
    if "postgres" in cmd and " -D " in cmd:
        return "PostgreSQL postmaster"
    return None
