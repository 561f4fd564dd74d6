"""The public pages' charts as inline SVG, drawn on the server.

No script, no external font, no style sheet needed (presentation attributes only, so they print and
survive a strict Content-Security-Policy). Each chart is an image with a title and a description
that say what it shows (role="img"), each mark has its own <title>, and every page shows the same
figures in a table beside it. An entity keeps its colour on every chart of a municipality's pages.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.utils.html import escape

from tallyroom.publish.formatting import num, pct

INK = "#1b1f24"
MUTED = "#5b6570"
GRID = "#d6dbe0"
LINE = "#0b5cad"
FONT = 'font-family="system-ui, -apple-system, Segoe UI, Roboto, Noto Sans, sans-serif"'


# Kelly's colours of maximum contrast (without white and black): distinct from each other, also
# for most colour-blind readers, and visible on white.
PALETTE = (
    "#0067a5", "#be0032", "#008856", "#f38400", "#875692", "#882d17", "#e68fac", "#848482", "#8db600",
    "#a1caf1", "#604e97", "#f6a600", "#b3446c", "#c2b280", "#e25822", "#2b3d26", "#f99379", "#654522",
    "#dcd300", "#f3c300",
)  # fmt: skip


def _start(code: str) -> int:
    return int.from_bytes(hashlib.sha256(code.encode()).digest()[:4], "big") % len(PALETTE)


def colour(code: str) -> str:
    """An entity's own colour: its code's hash picks from the palette."""
    return PALETTE[_start(code)]


def colour_map(codes: Iterable[str]) -> dict[str, str]:
    """Colours for the entities that appear together (a municipality's): each its own colour where
    the hash gives two the same, the later code (in code order) taking the next free one. The same
    set of codes always gets the same colours."""
    taken: set[int] = set()
    out = {}
    for code in sorted(set(codes)):
        n = _start(code)
        for step in range(len(PALETTE)):
            if (n + step) % len(PALETTE) not in taken:
                n = (n + step) % len(PALETTE)
                break
        taken.add(n)
        out[code] = PALETTE[n]
    return out


def _f(value: float) -> str:
    return f"{value:.1f}"


def _t(text: object) -> str:
    return str(escape(str(text)))


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _svg(ident: str, width: float, height: float, title: str, desc: str, body: Sequence[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {_f(width)} {_f(height)}" '
        f'width="100%" role="img" aria-labelledby="{ident}-t {ident}-d" {FONT} font-size="12">'
        f'<title id="{ident}-t">{_t(title)}</title><desc id="{ident}-d">{_t(desc)}</desc>' + "".join(body) + "</svg>"
    )


@dataclass(frozen=True)
class Bar:
    colour: str
    label: str
    votes: int
    share: Decimal | None


def bar_chart(ident: str, title: str, bars: Sequence[Bar]) -> str:
    """Votes per choice as horizontal bars, largest share on the widest bar."""
    width, row, left, right = 640.0, 26.0, 210.0, 130.0
    height = max(len(bars), 1) * row + 8
    top = max((b.votes for b in bars), default=0) or 1
    body = []
    for n, b in enumerate(bars):
        y = 4 + n * row
        w = (width - left - right) * b.votes / top
        value = f"{num(b.votes)} ({pct(b.share)})"
        body.append(
            f'<text x="{_f(left - 6)}" y="{_f(y + 16)}" text-anchor="end" fill="{INK}">{_t(_short(b.label, 32))}</text>'
            f'<rect x="{_f(left)}" y="{_f(y + 3)}" width="{_f(max(w, 1.0))}" height="{_f(row - 8)}" '
            f'fill="{b.colour}"><title>{_t(b.label)}: {_t(value)}</title></rect>'
            f'<text x="{_f(left + w + 6)}" y="{_f(y + 16)}" fill="{INK}">{_t(value)}</text>'
        )
    desc = "; ".join(f"{b.label}: {num(b.votes)} ({pct(b.share)})" for b in bars)
    return _svg(ident, width, height, title, desc, body)


@dataclass(frozen=True)
class Seats:
    colour: str
    label: str
    seats: int
    unfilled: int = 0  # won, but the list has no candidate left to take them


def _hemicycle(total: int) -> tuple[list[tuple[float, float]], float]:
    """Seat positions (angle, radius as a share of the outer radius), left to right, and the room
    each seat has (as a share of the outer radius): rows whose seat counts grow with their radius,
    seats of a row evenly spread over the half circle."""
    rows = max(1, math.ceil(math.sqrt(total / 2.4)))
    inner = 0.38 if rows > 1 else 0.8
    radii = [inner + (1 - inner) * i / (rows - 1) for i in range(rows)] if rows > 1 else [inner]
    counts = [int(total * r / sum(radii)) for r in radii]
    for i in range(total - sum(counts)):
        counts[-1 - i % rows] += 1
    places = []
    for radius, n in zip(radii, counts, strict=True):
        for j in range(n):
            angle = math.pi / 2 if n == 1 else math.pi * (1 - j / (n - 1))
            places.append((angle, radius))
    places.sort(key=lambda p: (-round(p[0], 6), p[1]))
    row_gap = (1 - inner) / (rows - 1) if rows > 1 else 0.3
    along = min((math.pi * r / (n - 1) for r, n in zip(radii, counts, strict=True) if n > 1), default=0.3)
    return places, min(row_gap, along, 0.12)


def seat_chart(ident: str, title: str, parties: Sequence[Seats], seats_word: str) -> str:
    """The assembly as a half circle of seats, one colour per entity; seats that no candidate can
    take are drawn hollow."""
    total = sum(p.seats for p in parties)
    width, height, outer = 420.0, 232.0, 196.0
    cx, cy = width / 2, height - 22
    places, room = _hemicycle(total)
    dot = max(2.5, room * outer * 0.42)
    body = []
    n = 0
    for p in parties:
        fill = p.colour
        for k in range(p.seats):
            angle, radius = places[n]
            n += 1
            x, y = cx + math.cos(angle) * radius * outer, cy - math.sin(angle) * radius * outer
            vacant = k >= p.seats - p.unfilled
            paint = f'fill="#ffffff" stroke="{fill}" stroke-width="2"' if vacant else f'fill="{fill}"'
            body.append(
                f'<circle cx="{_f(x)}" cy="{_f(y)}" r="{_f(dot)}" {paint}><title>{_t(p.label)}</title></circle>'
            )
    body.append(
        f'<text x="{_f(cx)}" y="{_f(cy)}" text-anchor="middle" font-size="22" font-weight="600" fill="{INK}">'
        f"{num(total)}</text>"
        f'<text x="{_f(cx)}" y="{_f(cy + 18)}" text-anchor="middle" fill="{MUTED}">{_t(seats_word)}</text>'
    )
    desc = "; ".join(f"{p.label}: {num(p.seats)}" for p in parties if p.seats)
    return _svg(ident, width, height, title, desc, body)


@dataclass(frozen=True)
class Point:
    label: str  # the reporting time
    share: Decimal | None


def turnout_chart(ident: str, title: str, points: Sequence[Point]) -> str:
    """Turnout through the day: the share of registered voters who had voted at each reporting time."""
    width, height, left, bottom, top, right = 420.0, 200.0, 44.0, 28.0, 14.0, 24.0
    shares = [float(p.share) for p in points if p.share is not None]
    ceiling = max(50.0, math.ceil(max(shares, default=0.0) / 10) * 10)
    plot_w, plot_h = width - left - right, height - top - bottom
    body = []
    for tick in range(0, int(ceiling) + 1, 10):
        y = top + plot_h * (1 - tick / ceiling)
        body.append(
            f'<line x1="{_f(left)}" y1="{_f(y)}" x2="{_f(width - right)}" y2="{_f(y)}" stroke="{GRID}"/>'
            f'<text x="{_f(left - 6)}" y="{_f(y + 4)}" text-anchor="end" fill="{MUTED}">{num(tick)}%</text>'
        )
    inset = 28.0  # keeps the first value's label clear of the axis labels
    step = (plot_w - 2 * inset) / max(len(points) - 1, 1)
    coords, marks = [], []
    for n, p in enumerate(points):
        x = left + (inset + n * step if len(points) > 1 else plot_w / 2)
        marks.append(f'<text x="{_f(x)}" y="{_f(height - 8)}" text-anchor="middle" fill="{MUTED}">{_t(p.label)}</text>')
        if p.share is None:
            continue
        y = top + plot_h * (1 - float(p.share) / ceiling)
        coords.append((x, y))
        marks.append(
            f'<circle cx="{_f(x)}" cy="{_f(y)}" r="4" fill="{LINE}">'
            f"<title>{_t(p.label)}: {pct(p.share)}</title></circle>"
            f'<text x="{_f(x)}" y="{_f(y - 9)}" text-anchor="middle" fill="{INK}">{pct(p.share)}</text>'
        )
    if len(coords) > 1:
        path = " ".join(f"{_f(x)},{_f(y)}" for x, y in coords)
        body.append(f'<polyline points="{path}" fill="none" stroke="{LINE}" stroke-width="2"/>')
    body += marks
    desc = "; ".join(f"{p.label}: {pct(p.share)}" for p in points)
    return _svg(ident, width, height, title, desc, body)
