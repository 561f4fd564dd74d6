"""The integrity page's figures as inline SVG drawn on the server: the turnout / leader-share
fingerprint (a heatmap) and the 0.1-point histograms with whole percents marked.

Same conventions as `publish.charts`: no script, presentation attributes only, role="img" with a
<title> and a <desc>, and the page shows the figures in a table beside each chart.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.html import escape

from tallyroom.publish.charts import FONT, GRID, INK, MUTED
from tallyroom.publish.formatting import num

#: Sequential classes, light to dark (viridis stops): readable on white and in greyscale.
PALETTE = ("#fde725", "#7ad151", "#22a884", "#2a788e", "#414487", "#440154")
WHOLE = "#c62828"
PLAIN = "#0b5cad"


def _f(value: float) -> str:
    return f"{value:.1f}"


def _t(text: object) -> str:
    return str(escape(str(text)))


def _svg(ident: str, width: float, height: float, title: str, desc: str, body: Sequence[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {_f(width)} {_f(height)}" '
        f'width="100%" role="img" aria-labelledby="{ident}-t {ident}-d" {FONT} font-size="12">'
        f'<title id="{ident}-t">{_t(title)}</title><desc id="{ident}-d">{_t(desc)}</desc>' + "".join(body) + "</svg>"
    )


def classes(top: int, most: int = len(PALETTE)) -> list[int]:
    """Lower bounds of the colour classes for counts 1..top: 1, 2, 5, 10, 20, 50... thinned to `most`."""
    bounds = [1]
    step = 0
    while True:
        following = bounds[-1] * (2.5 if step % 3 == 1 else 2)
        if following > top:
            break
        bounds.append(int(following))
        step += 1
    while len(bounds) > most:
        bounds = bounds[::2]
    return bounds


def class_of(count: int, bounds: Sequence[int]) -> int:
    return max(i for i, low in enumerate(bounds) if count >= low)


def class_labels(bounds: Sequence[int]) -> list[str]:
    labels = []
    for i, low in enumerate(bounds):
        if i + 1 == len(bounds):
            labels.append(f"≥ {num(low)}" if i else num(low))
        else:
            high = bounds[i + 1] - 1
            labels.append(num(low) if high == low else f"{num(low)}–{num(high)}")
    return labels


def heatmap(
    ident: str, title: str, desc: str, counts: Sequence[Sequence[int]], x_label: str, y_label: str, legend: str
) -> str:
    """Stations by turnout (x, `counts` rows) and leader's share (y, columns), one cell per bin,
    coloured by count class; empty cells are left white."""
    bins = len(counts)
    plot, left, top, bottom = 300.0, 48.0, 10.0, 44.0
    cell = plot / bins
    legend_x = left + plot + 22
    width, height = legend_x + 92, top + plot + bottom
    peak = max((max(row) for row in counts), default=0)
    bounds = classes(max(peak, 1))
    body = [
        f'<rect x="{_f(left)}" y="{_f(top)}" width="{_f(plot)}" height="{_f(plot)}" fill="#ffffff" stroke="{GRID}"/>'
    ]
    for tick in range(0, 101, 20):
        x = left + plot * tick / 100
        y = top + plot * (1 - tick / 100)
        body.append(
            f'<line x1="{_f(x)}" y1="{_f(top)}" x2="{_f(x)}" y2="{_f(top + plot)}" stroke="{GRID}"/>'
            f'<line x1="{_f(left)}" y1="{_f(y)}" x2="{_f(left + plot)}" y2="{_f(y)}" stroke="{GRID}"/>'
            f'<text x="{_f(x)}" y="{_f(top + plot + 16)}" text-anchor="middle" fill="{MUTED}">{num(tick)}%</text>'
            f'<text x="{_f(left - 6)}" y="{_f(y + 4)}" text-anchor="end" fill="{MUTED}">{num(tick)}%</text>'
        )
    for row, line in enumerate(counts):
        for column, count in enumerate(line):
            if count <= 0:
                continue
            x = left + row * cell
            y = top + plot - (column + 1) * cell
            body.append(
                f'<rect x="{_f(x)}" y="{_f(y)}" width="{_f(cell)}" height="{_f(cell)}" '
                f'fill="{PALETTE[class_of(count, bounds)]}"/>'
            )
    body.append(
        f'<text x="{_f(left + plot / 2)}" y="{_f(height - 6)}" text-anchor="middle" fill="{INK}">{_t(x_label)}</text>'
        f'<text transform="translate(12 {_f(top + plot / 2)}) rotate(-90)" text-anchor="middle" fill="{INK}">'
        f"{_t(y_label)}</text>"
        f'<text x="{_f(legend_x)}" y="{_f(top + 10)}" fill="{INK}">{_t(legend)}</text>'
    )
    for i, label in enumerate(class_labels(bounds)):
        y = top + 22 + i * 20
        body.append(
            f'<rect x="{_f(legend_x)}" y="{_f(y)}" width="14" height="14" fill="{PALETTE[i]}"/>'
            f'<text x="{_f(legend_x + 20)}" y="{_f(y + 11)}" fill="{INK}">{_t(label)}</text>'
        )
    return _svg(ident, width, height, title, desc, body)


def percent_histogram(ident: str, title: str, desc: str, counts: Sequence[int], y_label: str) -> str:
    """Stations per 0.1-point bin (1001 bins, 0.0 to 100.0), whole percents in red. The vertical scale
    leaves out 0% and 100%, which can dwarf the rest and are not tested."""
    width, height, left, right, top, bottom = 640.0, 190.0, 44.0, 12.0, 10.0, 26.0
    plot_w, plot_h = width - left - right, height - top - bottom
    inner = list(counts[1:-1])
    peak = max(max(inner, default=0), 1)
    ceiling = peak * 1.1
    body = []
    for tick in range(0, 101, 10):
        x = left + plot_w * tick / 100
        body.append(
            f'<line x1="{_f(x)}" y1="{_f(top)}" x2="{_f(x)}" y2="{_f(top + plot_h)}" stroke="{GRID}"/>'
            f'<text x="{_f(x)}" y="{_f(height - 8)}" text-anchor="middle" fill="{MUTED}">{num(tick)}%</text>'
        )
    body.append(
        f'<text x="{_f(left - 6)}" y="{_f(top + 10)}" text-anchor="end" fill="{MUTED}">{num(peak)}</text>'
        f'<text x="{_f(left - 6)}" y="{_f(top + plot_h)}" text-anchor="end" fill="{MUTED}">0</text>'
        f'<text transform="translate(10 {_f(top + plot_h / 2)}) rotate(-90)" text-anchor="middle" fill="{INK}">'
        f"{_t(y_label)}</text>"
    )
    paths: dict[bool, list[str]] = {True: [], False: []}
    base = top + plot_h
    for tenth, count in enumerate(counts):
        if count <= 0:
            continue
        x = left + plot_w * tenth / 1000
        y = base - plot_h * min(count, ceiling) / ceiling
        paths[tenth % 10 == 0 and 0 < tenth < 1000].append(f"M{_f(x)} {_f(base)}V{_f(y)}")
    for whole, colour, stroke in ((False, PLAIN, "0.8"), (True, WHOLE, "1.4")):
        if paths[whole]:
            body.append(f'<path d="{"".join(paths[whole])}" stroke="{colour}" stroke-width="{stroke}" fill="none"/>')
    return _svg(ident, width, height, title, desc, body)
