"""Public pages. Thin: selectors read, templates show."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from tallyroom.elections import selectors


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "publish/home.html", {"elections": selectors.election_list()})


def election_detail(request: HttpRequest, code: str) -> HttpResponse:
    election = selectors.election_get(code)
    if election is None:
        raise Http404
    context = {
        "election": election,
        "totals": selectors.election_totals(election),
        "municipalities": selectors.municipality_list(election),
    }
    return render(request, "publish/election.html", context)
