"""The municipality page's station table, built in Python rather than in nested template loops.

A big municipality has a thousand stations and every snapshot renders its page in each language:
template machinery per cell (a lookup, a filter, autoescaping, `{% url %}`, `{% blocktranslate %}`)
cost most of the page. The markup is the template's, byte for byte; every text is escaped here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from html import escape as html_escape
from urllib.parse import quote

from django.template.defaultfilters import date as date_filter
from django.urls import reverse
from django.utils.formats import get_format
from django.utils.translation import get_language, gettext

from tallyroom.publish import formatting
from tallyroom.publish import standings as st
from tallyroom.publish.selectors import StationLine

# What Django's reverse() leaves unquoted in a path (django.urls.resolvers._reverse_with_prefix).
_URL_SAFE = "!$&'()*+,;=" + "/~:@"
_MARKER = "TallyroomStationSlugMarker"


def escape(text: object) -> str:
    """`django.utils.html.escape`'s text (it is `html.escape(str(text))`) without its lazy-text wrapper
    and SafeString: a thousand stations' cells called it 45,000 times a page."""
    return html_escape(str(text))


def station_url(election_code: str) -> Callable[[str], str]:
    """slug -> the station page's path, as `reverse("publish:station", ...)` gives it, with one reverse()."""
    pattern = reverse("publish:station", args=[election_code, _MARKER])
    if pattern.count(_MARKER) != 1:  # the code itself holds the marker: no shortcut
        return lambda slug: reverse("publish:station", args=[election_code, slug])
    head, tail = pattern.split(_MARKER)

    def url(slug: str) -> str:
        if "/" in slug:  # never in a slug; reverse() refuses it
            return reverse("publish:station", args=[election_code, slug])
        return head + quote(slug, safe=_URL_SAFE) + tail

    return url


class Numbers:
    """`formatting.num`, escaped, for many counts in one language: its separator looked up once."""

    def __init__(self) -> None:
        lang = get_language()
        self.fast = get_format("NUMBER_GROUPING", lang) in (0, 3)  # as formatting.num's fast path
        self.separator = escape(get_format("THOUSAND_SEPARATOR", lang))

    def __call__(self, value: int | None) -> str:
        if value is None:
            return formatting.DASH
        if self.fast and type(value) is int:
            return f"{value:,}".replace(",", self.separator)
        return escape(formatting.num(value))


def station_rows(stations: Iterable[StationLine], election_code: str) -> str:
    """The `<tr>`s of the station table, escaped: the caller marks the result safe."""
    url = station_url(election_code)
    num = Numbers()
    labels: dict[str, str] = {}
    repeats: dict[st.RoundInfo, str] = {}

    def label(status: str) -> str:
        if status not in labels:
            labels[status] = f'<td class="count {escape(status)}">{escape(st.STATUS_LABELS[status])}'
        return labels[status]

    def repeat(round_: st.RoundInfo) -> str:
        if round_ not in repeats:
            when = escape(date_filter(round_.date, "DATE_FORMAT"))
            text = gettext("repeat voting, %(date)s") % {"date": when}
            repeats[round_] = f' <span class="muted">({text})</span>'
        return repeats[round_]

    parts: list[str] = []
    for s in stations:
        code = escape(s.code)
        parts.append(
            f'<tr data-station="{code}">\n    <th scope="row"><a href="{escape(url(s.slug))}">{code}</a></th>'
            f'<td>{escape(s.centre_name)}</td><td class="num">{num(s.registered)}</td>\n    '
        )
        for cell in s.cells:
            parts.append(f'<td class="num">{num(cell.ballots_cast)}</td><td class="num">{num(cell.valid)}</td>\n      ')
            parts.append(label(cell.status))
            if cell.repeat_round:
                parts.append(repeat(cell.repeat_round))
            parts.extend(f'<br><a href="#decision-{d.id:d}">{escape(d.legal_basis)}</a>' for d in cell.decisions)
            parts.append("</td>")
        parts.append("\n  </tr>")
    return "".join(parts)
