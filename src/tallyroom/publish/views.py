"""Public pages, no sign-in. Thin: selectors read, templates show.

Every page is a function of its URL, its language and the database alone (no session, no CSRF
token, no clock), so the snapshotter can render it once and serve the copy to everyone.
"""

from __future__ import annotations

from collections.abc import Collection

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.test import RequestFactory
from django.urls import reverse

from tallyroom.elections.models import Election, Municipality
from tallyroom.publish import selectors
from tallyroom.publish.slugs import station_code

STATION_TEMPLATE = "publish/station.html"


def _election(code: str) -> Election:
    election = selectors.election_get(code)
    if election is None:
        raise Http404
    return election


def home(request: HttpRequest) -> HttpResponse:
    page = selectors.home_page()
    return render(request, "publish/home.html", {"page": page, "tz": page.timezone})


def election_detail(request: HttpRequest, code: str) -> HttpResponse:
    election = _election(code)
    page = selectors.election_overview(election)
    return render(request, "publish/election.html", {"page": page, "election": election, "tz": election.timezone})


def municipality_detail(request: HttpRequest, code: str, municipality: str) -> HttpResponse:
    election = _election(code)
    found = selectors.municipality_get(election, municipality)
    if found is None:
        raise Http404
    page = selectors.municipality_page(election, found)
    return render(request, "publish/municipality.html", {"page": page, "election": election, "tz": election.timezone})


def station_detail(request: HttpRequest, code: str, station: str) -> HttpResponse:
    election = _election(code)
    found = selectors.station_get(election, station_code(station))
    if found is None:
        raise Http404
    page = selectors.station_page(election, found)
    return render(request, STATION_TEMPLATE, {"page": page, "election": election, "tz": election.timezone})


def station_pages_render(
    election: Election, municipality: Municipality, station_ids: Collection[int] | None = None
) -> dict[str, bytes]:
    """Every station page of a municipality (or those of `station_ids`) in the active language, by URL
    path: the bytes the view answers, from one bulk read instead of one per station (for the snapshotter)."""
    factory = RequestFactory()
    out = {}
    for page in selectors.station_pages(election, municipality, station_ids).values():
        path = reverse("publish:station", args=[election.code, page.slug])
        context = {"page": page, "election": election, "tz": election.timezone}
        out[path] = render(factory.get(path), STATION_TEMPLATE, context).content
    return out
