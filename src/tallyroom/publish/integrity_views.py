"""The public integrity page: statistical warning signs in an election's counted results.

Thin, like the other public pages: a function of the URL, the language and the database alone
(no session, no CSRF token, no clock), so snapshots can copy it.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from tallyroom.publish.integrity import integrity_page
from tallyroom.publish.selectors import election_get


def election_integrity(request: HttpRequest, code: str) -> HttpResponse:
    election = election_get(code)
    if election is None:
        raise Http404
    page = integrity_page(election)
    return render(request, "publish/integrity.html", {"page": page, "election": election, "tz": election.timezone})
