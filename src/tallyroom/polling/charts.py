"""The dashboard's charts as inline SVG, drawn on the server: no script, no external font, readable
by screen readers (a title and a description that say what the chart shows; a data table beside it)."""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from tallyroom.polling import state as sm
from tallyroom.polling.labels import STATUS_LABELS
from tallyroom.polling.selectors import STATUS_COLUMNS, Dashboard

STATUS_COLOURS = {
    sm.Status.OPEN: "#2e7d32",
    sm.Status.SUSPENDED: "#f9a825",
    sm.Status.CLOSED: "#1565c0",
    sm.Status.CLOSED_EARLY: "#c62828",
    sm.Status.DID_NOT_OPEN: "#6a1b9a",
    sm.Status.NOT_OPENED: "#9e9e9e",
}


def _f(value: float) -> str:
    """A coordinate: format_html escapes its arguments, so numbers go in as text."""
    return f"{value:.1f}"


def _html(template: str, *args: object) -> SafeString:
    return format_html(template, *(_f(a) if isinstance(a, float) else a for a in args))


def _pct(share: float | None) -> str:
    return "–" if share is None else f"{share * 100:.1f}%"


def _svg(width: int, height: int, ident: str, title: str, desc: str, body: Sequence[str]) -> SafeString:
    head = format_html(
        '<svg class="chart" viewBox="0 0 {} {}" role="img" aria-labelledby="{}-t {}-d" '
        'xmlns="http://www.w3.org/2000/svg"><title id="{}-t">{}</title><desc id="{}-d">{}</desc>',
        width,
        height,
        ident,
        ident,
        ident,
        title,
        ident,
        desc,
    )
    return mark_safe(head + "".join(body) + "</svg>")  # noqa: S308 - every part is escaped above or below


def turnout_by_time(board: Dashboard) -> SafeString:
    """Turnout across the country at each reporting time, with the previous election's where loaded."""
    slots = board.slots
    width, height, left, bottom, top = 360, 200, 40, 30, 10
    plot_h = height - bottom - top
    step = (width - left - 10) / max(len(slots), 1)
    body = [
        _html('<line x1="{}" y1="{}" x2="{}" y2="{}" class="axis"/>', left, height - bottom, width - 5, height - bottom)
    ]
    scale = 0.6  # 60% at the top: turnout on the day rarely goes higher, and small numbers stay visible
    for tick in (0.0, 0.2, 0.4, 0.6):
        y = height - bottom - tick / scale * plot_h
        body.append(
            _html('<text x="{}" y="{}" class="tick" text-anchor="end">{}%</text>', left - 4, y + 4, int(tick * 100))
        )
        body.append(_html('<line x1="{}" y1="{}" x2="{}" y2="{}" class="grid"/>', left, y, width - 5, y))
    parts = []
    for n, slot in enumerate(slots):
        s = board.total.turnout.get(slot)
        share = s.share if s else None
        x = left + n * step + step * 0.2
        w = step * 0.6
        if share is not None:
            h = min(share / scale, 1.0) * plot_h
            body.append(
                _html(
                    '<rect x="{}" y="{}" width="{}" height="{}" class="bar"/>'
                    '<text x="{}" y="{}" class="value" text-anchor="middle">{}</text>',
                    x,
                    height - bottom - h,
                    w,
                    h,
                    x + w / 2,
                    height - bottom - h - 3,
                    _pct(share),
                )
            )
        if s is not None and s.previous is not None:
            py = height - bottom - min(s.previous / scale, 1.0) * plot_h
            body.append(_html('<line x1="{}" y1="{}" x2="{}" y2="{}" class="previous"/>', x - 3, py, x + w + 3, py))
        body.append(
            _html('<text x="{}" y="{}" class="tick" text-anchor="middle">{}</text>', x + w / 2, height - 10, slot)
        )
        parts.append(
            f"{slot}: {_pct(share)}"
            + (f" ({_('previous election')} {_pct(s.previous)})" if s and s.previous is not None else "")
        )
    desc = _("Turnout across the country at each reporting time: %(values)s.") % {"values": "; ".join(parts)}
    return _svg(width, height, "turnout-time", _("Turnout by reporting time"), desc, body)


def latest_by_municipality(board: Dashboard) -> SafeString:
    """Each municipality's latest turnout, as a bar; the northern ones marked."""
    rows = [(r, r.latest_share(board.slots)) for r in board.rows]
    bar_h, gap, left, width = 12, 4, 130, 360
    height = max(len(rows), 1) * (bar_h + gap) + 10
    scale = 0.8
    body = []
    parts = []
    for n, (row, latest) in enumerate(rows):
        y = 5 + n * (bar_h + gap)
        share = latest[1] if latest else None
        label = f"{row.code} {row.name}"
        body.append(
            _html('<text x="{}" y="{}" class="tick" text-anchor="end">{}</text>', left - 4, y + bar_h - 2, label[:22])
        )
        if share is not None:
            w = min(share / scale, 1.0) * (width - left - 40)
            cls = "bar north" if row.area == "north" else "bar"
            body.append(
                _html(
                    '<rect x="{}" y="{}" width="{}" height="{}" class="{}"/>'
                    '<text x="{}" y="{}" class="value">{}</text>',
                    left,
                    y,
                    w,
                    bar_h,
                    cls,
                    left + w + 3,
                    y + bar_h - 2,
                    _pct(share),
                )
            )
            parts.append(f"{label} {_pct(share)} ({latest[0] if latest else ''})")
        else:
            parts.append(f"{label} –")
    desc = _("Latest turnout by municipality; the northern municipalities are marked: %(values)s.") % {
        "values": "; ".join(parts)
    }
    return _svg(width, height, "turnout-muni", _("Latest turnout by municipality"), desc, body)


def status_bar(board: Dashboard) -> SafeString:
    """Every station of the country in one bar, by status."""
    width, height = 360, 28
    total = sum(board.total.statuses.get(s.value, 0) for s in STATUS_COLUMNS) or 1
    x = 0.0
    body = []
    parts = []
    for status in STATUS_COLUMNS:
        n = board.total.statuses.get(status.value, 0)
        parts.append(f"{STATUS_LABELS[status]} {n}")
        if not n:
            continue
        w = n / total * width
        body.append(
            _html(
                '<rect x="{}" y="0" width="{}" height="28" fill="{}"><title>{}: {}</title></rect>',
                x,
                w,
                STATUS_COLOURS[status],
                STATUS_LABELS[status],
                n,
            )
        )
        x += w
    desc = _("Stations by status: %(values)s.") % {"values": ", ".join(parts)}
    return _svg(width, height, "status-bar", _("Stations by status"), desc, body)
