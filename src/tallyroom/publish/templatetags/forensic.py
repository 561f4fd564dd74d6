"""Template helpers of the integrity page: statistics in the page's language, and its two figures."""

from __future__ import annotations

from decimal import Decimal

from django import template
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from tallyroom.publish import formatting, integrity_charts
from tallyroom.publish.integrity import IntegrityPage

register = template.Library()


def _decimal(value: float, places: int) -> Decimal:
    return Decimal(f"{value:.{places}f}") + 0  # + 0: no "-0.0"


@register.filter
def fraction_pct(value: float | None, places: int = 1) -> str:
    """A fraction (0.4631) as a percentage in the page's language: 46.3%."""
    if value is None:
        return formatting.DASH
    return f"{formatting.num(_decimal(100 * value, places), places)}%"


@register.filter
def dec(value: float | int | None, places: int = 1) -> str:
    """A number with `places` decimals (thousands grouped) in the page's language."""
    if value is None:
        return formatting.DASH
    return formatting.num(_decimal(float(value), places), places)


@register.filter
def signed(value: float | None, places: int = 1) -> str:
    """+3.8 / −4.5: a robust z with its sign."""
    if value is None:
        return formatting.DASH
    text = dec(abs(value), places)
    return ("+" if value >= 0 else "−") + text


@register.filter
def pvalue(value: float | None) -> str:
    """p-values as the command prints them: < 0.001, else three decimals."""
    if value is None:
        return formatting.DASH
    if value < 0.001:
        return f"< {formatting.num(Decimal('0.001'), 3)}"
    return formatting.num(_decimal(value, 3), 3)


@register.filter
def p_equals(value: float | None) -> str:
    """ "p < 0.001" or "p = 0.042", for sentences."""
    text = pvalue(value)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


@register.simple_tag
def fingerprint_chart(page: IntegrityPage) -> SafeString:
    fp = page.fingerprint
    if fp is None:
        return mark_safe("")
    title = _("Fingerprint: polling stations by turnout and %(leader)s's share") % {"leader": page.leader}
    low_t, low_s, count = fp.densest
    desc = _(
        "%(stations)s stations. The densest cell is turnout %(t)s–%(t2)s%%, share %(s)s–%(s2)s%% "
        "(%(count)s stations); %(corner)s stations have both at 95%% or more."
    ) % {
        "stations": formatting.num(fp.stations),
        "t": formatting.num(low_t),
        "t2": formatting.num(low_t + 2),
        "s": formatting.num(low_s),
        "s2": formatting.num(low_s + 2),
        "count": formatting.num(count),
        "corner": formatting.num(fp.corner),
    }
    svg = integrity_charts.heatmap(
        "fingerprint",
        title,
        desc,
        fp.counts,
        _("Turnout"),
        _("Share of %(leader)s") % {"leader": page.leader},
        _("Stations"),
    )
    return mark_safe(svg)  # noqa: S308 - the chart escapes all text


@register.simple_tag
def histogram_chart(page: IntegrityPage, key: str) -> SafeString:
    report = page.report or {}
    counts = report.get("histograms", {}).get(key)
    block = report.get("integer_percentages", {}).get(key)
    if counts is None or block is None:
        return mark_safe("")
    if key == "turnout":
        title = _("Turnout of each station, in steps of 0.1 points")
    else:
        title = _("%(leader)s's share at each station, in steps of 0.1 points") % {"leader": page.leader}
    desc = _(
        "Whole percents are marked in red: %(observed)s stations land on one, against %(expected)s expected by chance."
    ) % {"observed": formatting.num(block["observed"]), "expected": dec(block["null_mean"], 0)}
    svg = integrity_charts.percent_histogram(f"hist-{key}", title, desc, counts, _("Stations"))
    return mark_safe(svg)  # noqa: S308 - the chart escapes all text
