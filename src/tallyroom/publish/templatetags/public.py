"""Template helpers of the public pages: numbers in the page's language, charts, language links."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django import template
from django.conf import settings
from django.urls import translate_url
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import capfirst
from django.utils.translation import get_language_info
from django.utils.translation import gettext as _

from tallyroom.publish import charts, formatting, station_table
from tallyroom.publish.selectors import ContestResult, MayorRace, MunicipalityPage
from tallyroom.publish.station_reads import FormView
from tallyroom.publish.turnout_reads import TurnoutDay

register = template.Library()


@register.filter
def num(value: int | Decimal | None) -> str:
    return formatting.num(value)


@register.filter
def pct(value: Decimal | None) -> str:
    return formatting.pct(value)


@register.filter
def isodate(value: str) -> dt.date | None:
    """A date the API writes as text (YYYY-MM-DD), for the date filter."""
    try:
        return dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        return None


@register.simple_tag
def swatch(code: str, colours: dict[str, str]) -> SafeString:
    """A small square in the entity's colour, beside its name (decorative: the name says it)."""
    return format_html(
        '<svg class="swatch" width="10" height="10" aria-hidden="true" focusable="false">'
        '<rect width="10" height="10" fill="{}"/></svg>',
        colours.get(code) or charts.colour(code),
    )


@register.simple_tag(takes_context=True)
def language_links(context: template.Context) -> list[dict[str, Any]]:
    """This page in every language, as plain links (a static copy of the site has no forms)."""
    request = context.get("request")
    path = request.path if request is not None else "/"
    current = context.get("LANGUAGE_CODE") or settings.LANGUAGE_CODE
    links = []
    for code, _name in settings.LANGUAGES:
        info = get_language_info(code)
        here = code == current  # this page: its own path (translate_url costs a resolve and a reverse)
        links.append(
            {
                "code": code,
                "name": info["name_local"],
                "url": path if here else translate_url(path, code),
                "current": here,
            }
        )
    return links


@register.simple_tag
def preference_tables(form: FormView) -> SafeString:
    """A form's preference votes, a table per list. Built here, not in a template loop: a large
    municipality's station forms carry hundreds of rows, and the snapshot renders every station."""
    if not form.preferences:
        return SafeString("")
    head = (
        '<table class="data compact"><caption>{}</caption><thead><tr><th scope="col" class="num">{}</th>'
        '<th scope="col">{}</th><th scope="col" class="num">{}</th></tr></thead><tbody>'
    )
    labels = (_("List position"), _("Name"), _("Votes"))
    number = station_table.Numbers()
    parts: list[str] = [format_html('<details class="preferences"><summary>{}</summary>', _("Preference votes"))]
    for entity, rows in form.preferences:
        parts.append(format_html(head, entity, *labels))
        parts.extend(
            f'<tr><td class="num">{position:d}</td><td>{escape(name)}</td><td class="num">{number(n)}</td></tr>'
            for position, name, n in rows
        )
        parts.append("</tbody></table>")
    parts.append("</details>")
    return mark_safe("".join(parts))  # noqa: S308 - names escaped, the rest are numbers


@register.simple_tag
def station_rows(page: MunicipalityPage) -> SafeString:
    """The rows of a municipality's station table (a thousand in a big one): built in Python."""
    return mark_safe(station_table.station_rows(page.stations, page.election.code))  # noqa: S308 - escaped there


@register.simple_tag
def form_numbers(form: FormView) -> SafeString:
    """A form's numbers as table rows (the snapshot renders every station page: no template loop)."""
    number = station_table.Numbers()
    rows = (
        f'<tr data-field="{escape(field)}"><th scope="row">{escape(capfirst(str(label)))}</th>'
        f'<td class="num">{number(value)}</td></tr>'
        for field, label, value in form.numbers
    )
    return mark_safe("".join(rows))  # noqa: S308 - every text escaped


@register.simple_tag
def form_votes(form: FormView, colours: dict[str, str]) -> SafeString:
    """A form's votes as table rows, each with its entity's swatch."""
    number = station_table.Numbers()
    rows = (
        f'<tr data-entity="{escape(code)}"><th scope="row">{swatch(code, colours)} {escape(label)}</th>'
        f'<td class="num votes">{number(n)}</td></tr>'
        for code, label, n in form.votes
    )
    return mark_safe("".join(rows))  # noqa: S308 - every text escaped


@register.simple_tag
def votes_chart(result: ContestResult | MayorRace, colours: dict[str, str], prefix: str = "votes") -> SafeString:
    ident = f"{prefix}-{result.contest.id}"
    bars = [
        charts.Bar(colours.get(c.entity) or charts.colour(c.entity), c.candidate or c.name, c.votes, c.share)
        for c in result.choices
    ]
    return mark_safe(charts.bar_chart(ident, _("Votes by choice"), bars))  # noqa: S308 - charts escape all text


@register.simple_tag
def seats_chart(result: ContestResult, colours: dict[str, str], prefix: str = "seats") -> SafeString:
    ident = f"{prefix}-{result.contest.id}"
    parties = [
        charts.Seats(colours.get(c.entity) or charts.colour(c.entity), c.name, c.seats or 0, c.unfilled)
        for c in result.choices
        if c.seats
    ]
    return mark_safe(charts.seat_chart(ident, _("Assembly seats by entity"), parties, _("seats")))  # noqa: S308


@register.simple_tag
def turnout_chart(day: TurnoutDay, prefix: str = "turnout") -> SafeString:
    ident = f"{prefix}-{day.round.id}"
    points = [charts.Point(p.slot, p.share) for p in day.points]
    title = _("Turnout through the day: %(round)s") % {"round": day.round.name}
    return mark_safe(charts.turnout_chart(ident, title, points))  # noqa: S308
