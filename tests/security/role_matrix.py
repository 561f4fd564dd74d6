"""The role matrix: every URL and API operation of the site against every principal, with the answer
each must get. tests/security/test_role_matrix.py runs it, and fails when an endpoint has no row here.

A row is (method, route as Django or django-ninja declares it, a sample path built from the test's
objects, a body for writes) and one expectation per principal:

| principal    | who                                                                            |
|--------------|--------------------------------------------------------------------------------|
| anonymous    | no session, no token                                                           |
| admin        | central commission administrator (TOTP verified)                               |
| official     | official of municipality 01, the sample station's (TOTP verified)              |
| chair        | chair of the sample station 0101C/01R, signed in on the web                    |
| clerk        | counting-centre data-entry clerk                                               |
| auditor      | auditor (TOTP verified)                                                        |
| panel        | complaints panel member                                                        |
| observer     | accredited observer (approved)                                                 |
| device       | the chair's station phone: `Authorization: Bearer trd_...`, no session         |
| unverified   | an administrator who typed the password but not the code (half signed in)      |

Writes run in a savepoint per principal, so every principal meets the same data: a permitted role
really writes (OK) or sends a body the page refuses on its content (INVALID), and every refusal is
checked to have written nothing. Pages are also served under /sq/ and /sr-latn/; the test checks
the Albanian copy of each page answers the anonymous visitor the same.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

PRINCIPALS = (
    "anonymous",
    "admin",
    "official",
    "chair",
    "clerk",
    "auditor",
    "panel",
    "observer",
    "device",
    "unverified",
)
ROLES = ("admin", "official", "chair", "clerk", "auditor", "panel", "observer")
DAY = dt.date(2025, 10, 12)  # the small election's first round
ZONE = "+02:00"  # Europe/Belgrade in October


class Expect(StrEnum):
    OK = "ok"  # 2xx: allowed, and done
    REDIRECT = "redirect"  # 302 elsewhere than the sign-in pages: the page's normal answer
    INVALID = "invalid"  # allowed, but this deliberately unacceptable body is refused (400/409/422): nothing written
    IGNORED = "ignored"  # 200, the page ignores a post this role may not make: nothing written
    LOGIN = "login"  # pages: 302 to a sign-in page; API: 401
    TWO_FACTOR = "2fa"  # 302 to the second-factor page (/accounts/two-factor/...)
    DENIED = "denied"  # 403
    NOT_FOUND = "not_found"  # 404: the object is hidden from this role (never told apart from missing)
    NOT_ALLOWED = "not_allowed"  # 405: the method is not served


OK, REDIRECT, INVALID, IGNORED = Expect.OK, Expect.REDIRECT, Expect.INVALID, Expect.IGNORED
LOGIN, TWO_FACTOR, DENIED, NOT_FOUND, NOT_ALLOWED = (
    Expect.LOGIN,
    Expect.TWO_FACTOR,
    Expect.DENIED,
    Expect.NOT_FOUND,
    Expect.NOT_ALLOWED,
)
REFUSALS = frozenset({INVALID, IGNORED, LOGIN, TWO_FACTOR, DENIED, NOT_FOUND, NOT_ALLOWED})


@dataclass(frozen=True)
class World:
    """The objects rows point at (built once per test module from the small election)."""

    election: str  # test-2025
    station: str  # 0101C/01R, municipality 01: the chair's and the official's
    municipality: str  # 01
    north: str  # 3801A/01R, municipality 38: neither the chair's nor the official's
    incident: int  # unverified, reported by the admin at the station
    public_incident: int  # verified: public
    photo: int  # a photo of the unverified incident
    held_turnout: int  # a turnout figure held for review (0102B/01R, municipality 01)
    applicant: int  # an observer application awaiting a decision
    observer: int  # the observer user's approved accreditation
    organisation: int
    spare_token: int  # a second device token of the chair, to revoke
    held_form: int  # a quarantined preliminary assembly form of the station
    held_version: int
    north_form: int  # a quarantined form of municipality 38
    disputed_form: int  # an official mayor form whose two blind entries differ (0102B/01R)
    complaint: int  # an open complaint about municipality 01
    contest: int  # the mayor contest of municipality 01, first round
    snapshot: str  # a snapshot folder's name


# Text that only some principals may read: no other principal's answer, on any row, may hold it.
HIDDEN_INCIDENT = "hidden-incident-7f3a"  # the unverified incident's description
COMPLAINT_SUBJECT = "complaint-subject-9c1e"  # the open complaint's subject
SECRETS = {
    HIDDEN_INCIDENT: frozenset({"admin", "official", "auditor", "panel"}),
    COMPLAINT_SUBJECT: frozenset({"admin", "panel"}),
}

Path = Callable[[World], str]
Body = Callable[[World], Any]


@dataclass(frozen=True)
class Row:
    method: str  # GET or POST
    route: str  # "/api/v1/incidents/{int:incident_id}" (ninja) or "/count/<str:code>/quarantine/" (Django)
    path: Path
    expect: Mapping[str, Expect]
    body: Body | None = None  # JSON for the API; form fields (multipart) for pages and uploads
    note: str = ""  # a variant's name, where one route has several rows

    @property
    def api(self) -> bool:
        return self.route.startswith("/api/v1/") and self.route not in API_PAGES

    @property
    def name(self) -> str:
        return f"{self.method} {self.route}" + (f" [{self.note}]" if self.note else "")


# Routes under /api/v1/ that are ninja's own pages, not operations.
API_PAGES = frozenset({"/api/v1/", "/api/v1/openapi.json", "/api/v1/docs"})


def _table(default: Expect, base: Mapping[str, Expect], **roles: Expect) -> dict[str, Expect]:
    unknown = set(roles) - set(PRINCIPALS)
    if unknown:
        raise ValueError(f"no such principal: {sorted(unknown)}")
    out = dict.fromkeys(ROLES, default) | dict(base)
    out.update(roles)
    return out


def everyone(expect: Expect, **roles: Expect) -> dict[str, Expect]:
    return _table(expect, dict.fromkeys(PRINCIPALS, expect), **roles)


def api(default: Expect = DENIED, **roles: Expect) -> dict[str, Expect]:
    """An operation for signed-in users and devices: anonymous and half-signed-in callers get 401;
    a device is refused unless named."""
    return _table(default, {"anonymous": LOGIN, "unverified": LOGIN, "device": DENIED}, **roles)


def api_public(**roles: Expect) -> dict[str, Expect]:
    return _table(OK, {"anonymous": OK, "unverified": OK, "device": OK}, **roles)


def page(default: Expect = DENIED, **roles: Expect) -> dict[str, Expect]:
    """A staff page: anonymous callers sign in first, a device token opens no page, a half-signed-in
    session enters its code first."""
    return _table(default, {"anonymous": LOGIN, "device": LOGIN, "unverified": TWO_FACTOR}, **roles)


def public(**roles: Expect) -> dict[str, Expect]:
    """Anyone; a half-signed-in session is still sent to its code (the middleware holds every page)."""
    return _table(OK, {"anonymous": OK, "device": OK, "unverified": TWO_FACTOR}, **roles)


def signin(**roles: Expect) -> dict[str, Expect]:
    """The sign-in pages themselves: open to all, the half-signed-in session included."""
    return _table(OK, {"anonymous": OK, "device": OK, "unverified": OK}, **roles)


# --- bodies ---------------------------------------------------------------------------------------


def iso(hhmm: str) -> str:
    return f"{DAY.isoformat()}T{hhmm}:00{ZONE}"


_keys = iter(range(1, 10**9))


def key() -> str:
    """A fresh client key for each request: a repeat would replay the first answer."""
    return f"matrix-{next(_keys)}"


def mayor_form(station: str) -> dict[str, Any]:
    """A mayor form of municipality 01 that reconciles: received = used + unused + spoiled."""
    votes = {"BLUE": 300, "IND-ARBEN": 200}
    used = sum(votes.values()) + 3
    return {
        "station": station,
        "contest": "mayor",
        "votes": votes,
        "invalid": 3,
        "signatures": used,
        "ballots_received": 832,
        "ballots_used": used,
        "ballots_unused": 832 - used - 2,
        "ballots_spoiled": 2,
    }


def mayor_content() -> dict[str, Any]:
    form = mayor_form("")
    return {k: v for k, v in form.items() if k not in {"station", "contest"}}


def photo(w: World) -> dict[str, Any]:
    return {"photo": SimpleUploadedFile("p.png", b"\x89PNG\r\n\x1a\n" + bytes(64), content_type="image/png")}


def dumps(body: Any) -> str:
    return json.dumps(body)


# --- the table ------------------------------------------------------------------------------------

E = "/api/v1"
STATION_REPORTERS = {"admin": OK, "official": OK, "chair": OK, "device": OK}
READERS = {"admin": OK, "official": OK, "auditor": OK, "panel": OK}  # see every municipality's count lists

API_ROWS = [
    # elections: public structure
    Row("GET", f"{E}/elections", lambda w: f"{E}/elections", api_public()),
    Row("GET", f"{E}/elections/{{code}}", lambda w: f"{E}/elections/{w.election}", api_public()),
    Row(
        "GET",
        f"{E}/elections/{{code}}/municipalities",
        lambda w: f"{E}/elections/{w.election}/municipalities",
        api_public(),
    ),
    Row("GET", f"{E}/municipalities/{{code}}/stations", lambda w: f"{E}/municipalities/01/stations", api_public()),
    # election day: a station's reports
    Row(
        "POST",
        f"{E}/stations/{{path:code}}/events",
        lambda w: f"{E}/stations/{w.station}/events",
        api(**STATION_REPORTERS),
        body=lambda w: {"kind": "suspended", "occurred_at": iso("12:00"), "reason": "power cut", "client_key": key()},
    ),
    Row(
        "POST",
        f"{E}/stations/{{path:code}}/events",
        lambda w: f"{E}/stations/{w.north}/events",
        api(admin=OK),
        body=lambda w: {"kind": "opened", "occurred_at": iso("07:00"), "client_key": key()},
        note="another municipality's station",
    ),
    Row(
        "POST",
        f"{E}/stations/{{path:code}}/turnout",
        lambda w: f"{E}/stations/{w.station}/turnout",
        api(**STATION_REPORTERS),
        body=lambda w: {"voters": 100, "reporting_time": "11:00", "client_key": key()},
    ),
    Row(
        "GET",
        f"{E}/stations/{{path:code}}/day",
        lambda w: f"{E}/stations/{w.station}/day",
        api(OK, device=OK),
    ),
    Row(
        "GET",
        f"{E}/stations/{{path:code}}/day",
        lambda w: f"{E}/stations/{w.north}/day",
        api(OK),
        note="another municipality's station",
    ),
    Row(
        "POST",
        f"{E}/turnout/{{int:report_id}}/review",
        lambda w: f"{E}/turnout/{w.held_turnout}/review",
        api(admin=OK, official=OK),
        body=lambda w: {"accept": False, "note": "typo", "client_key": key()},
    ),
    # incidents
    Row(
        "POST",
        f"{E}/incidents",
        lambda w: f"{E}/incidents",
        api(**STATION_REPORTERS, observer=OK),
        body=lambda w: {
            "election": w.election,
            "station": w.station,
            "kind": "campaigning",
            "severity": "low",
            "occurred_at": iso("09:00"),
            "description": "Leaflets at the door.",
            "client_key": key(),
        },
    ),
    Row("GET", f"{E}/incidents", lambda w: f"{E}/incidents?election={w.election}", api(OK, device=OK)),
    Row(
        "GET",
        f"{E}/incidents/{{int:incident_id}}",
        lambda w: f"{E}/incidents/{w.incident}",
        api(NOT_FOUND, device=NOT_FOUND, **READERS),
        note="unverified",
    ),
    Row(
        "GET",
        f"{E}/incidents/{{int:incident_id}}",
        lambda w: f"{E}/incidents/{w.public_incident}",
        api(OK, device=OK),
        note="verified, public",
    ),
    Row(
        "POST",
        f"{E}/incidents/{{int:incident_id}}/verify",
        lambda w: f"{E}/incidents/{w.incident}/verify",
        api(NOT_FOUND, device=NOT_FOUND, admin=OK, official=OK, auditor=DENIED, panel=DENIED),
        body=lambda w: {"note": "seen", "client_key": key()},
    ),
    Row(
        "POST",
        f"{E}/incidents/{{int:incident_id}}/reject",
        lambda w: f"{E}/incidents/{w.incident}/reject",
        api(NOT_FOUND, device=NOT_FOUND, admin=OK, official=OK, auditor=DENIED, panel=DENIED),
        body=lambda w: {"reason": "not so", "client_key": key()},
    ),
    Row(
        "POST",
        f"{E}/incidents/{{int:incident_id}}/resolve",
        lambda w: f"{E}/incidents/{w.public_incident}/resolve",
        api(admin=OK, official=OK),
        body=lambda w: {"resolution": "done", "client_key": key()},
    ),
    Row(
        "POST",
        f"{E}/incidents/{{int:incident_id}}/photos",
        lambda w: f"{E}/incidents/{w.incident}/photos",
        api(NOT_FOUND, device=NOT_FOUND, admin=OK, official=OK, auditor=DENIED, panel=DENIED),
        body=photo,
    ),
    Row(
        "GET",
        f"{E}/elections/{{code}}/public-incidents",
        lambda w: f"{E}/elections/{w.election}/public-incidents",
        api_public(),
    ),
    Row(
        "GET",
        f"{E}/elections/{{code}}/election-day",
        lambda w: f"{E}/elections/{w.election}/election-day",
        api(OK, device=OK),
    ),
    # observers
    Row(
        "GET",
        f"{E}/elections/{{code}}/observer-organisations",
        lambda w: f"{E}/elections/{w.election}/observer-organisations",
        api(OK, device=OK),
    ),
    Row(
        "POST",
        f"{E}/elections/{{code}}/observer-organisations",
        lambda w: f"{E}/elections/{w.election}/observer-organisations",
        api(admin=OK),
        body=lambda w: {"name": "EU EOM", "kind": "international", "client_key": key()},
    ),
    Row(
        "POST",
        f"{E}/elections/{{code}}/observers",
        lambda w: f"{E}/elections/{w.election}/observers",
        api(admin=OK),
        body=lambda w: {"organisation": w.organisation, "full_name": "Genta Zeka", "client_key": key()},
        note="for someone else",
    ),
    Row(
        "POST",
        f"{E}/elections/{{code}}/observers",
        lambda w: f"{E}/elections/{w.election}/observers",
        api(admin=INVALID, observer=INVALID),
        body=lambda w: {
            "organisation": w.organisation,
            "full_name": "Teuta Gashi",
            "username": "observer",
            "client_key": key(),
        },
        note="for the observer user, who may apply for themselves (already accredited: 409)",
    ),
    Row(
        "POST",
        f"{E}/observers/{{int:observer_id}}/approve",
        lambda w: f"{E}/observers/{w.applicant}/approve",
        api(admin=OK),
        body=lambda w: {"client_key": key()},
    ),
    Row(
        "POST",
        f"{E}/observers/{{int:observer_id}}/refuse",
        lambda w: f"{E}/observers/{w.applicant}/refuse",
        api(admin=OK),
        body=lambda w: {"reason": "incomplete", "client_key": key()},
    ),
    Row(
        "POST",
        f"{E}/observers/{{int:observer_id}}/revoke",
        lambda w: f"{E}/observers/{w.observer}/revoke",
        api(admin=OK),
        body=lambda w: {"reason": "breach", "client_key": key()},
    ),
    Row(
        "POST",
        f"{E}/observers/{{int:observer_id}}/deployments",
        lambda w: f"{E}/observers/{w.observer}/deployments",
        api(admin=OK, official=OK, observer=OK),
        body=lambda w: {"station": w.station, "started_at": iso("08:00"), "client_key": key()},
        note="the observer user's own accreditation",
    ),
    Row(
        "POST",
        f"{E}/observers/{{int:observer_id}}/deployments",
        lambda w: f"{E}/observers/{w.applicant}/deployments",
        api(admin=INVALID, official=INVALID),
        body=lambda w: {"station": w.station, "started_at": iso("08:00"), "client_key": key()},
        note="someone else's accreditation, not yet approved: the observer may not, the commission is told why",
    ),
    Row(
        "POST",
        f"{E}/observer-organisations/{{int:organisation_id}}/withdrawals",
        lambda w: f"{E}/observer-organisations/{w.organisation}/withdrawals",
        api(admin=OK, official=OK),
        body=lambda w: {
            "municipality": w.municipality,
            "occurred_at": iso("18:00"),
            "reason": "pulled out",
            "client_key": key(),
        },
    ),
    Row(
        "GET",
        f"{E}/elections/{{code}}/observer-coverage",
        lambda w: f"{E}/elections/{w.election}/observer-coverage",
        api(OK, device=OK),
    ),
    # device tokens
    Row(
        "POST",
        f"{E}/device-tokens",
        lambda w: f"{E}/device-tokens",
        api(admin=OK, official=OK),
        body=lambda w: {"election": w.election, "station": w.station, "username": "chair", "round": "R1"},
    ),
    Row(
        "POST",
        f"{E}/device-tokens/{{int:token_id}}/revoke",
        lambda w: f"{E}/device-tokens/{w.spare_token}/revoke",
        api(admin=OK, official=OK),
        body=lambda w: {},
    ),
    # the count
    Row(
        "POST",
        f"{E}/result-forms",
        lambda w: f"{E}/result-forms",
        api(**STATION_REPORTERS),
        body=lambda w: mayor_form(w.station) | {"client_key": key()},
    ),
    Row(
        "POST",
        f"{E}/result-forms",
        lambda w: f"{E}/result-forms",
        api(admin=OK, official=OK),
        body=lambda w: mayor_form("0102B/01R") | {"client_key": key()},
        note="a station of the official's municipality, not the chair's",
    ),
    Row(
        "POST",
        f"{E}/result-forms/bulk",
        lambda w: f"{E}/result-forms/bulk",
        api(admin=OK),
        body=lambda w: {
            "election": w.election,
            "forms": [{"station": w.station, "contest": "mayor", "form": mayor_content()}],
        },
    ),
    Row(
        "POST",
        f"{E}/result-forms/entries",
        lambda w: f"{E}/result-forms/entries",
        api(admin=OK, clerk=OK),
        body=lambda w: mayor_form(w.station),
    ),
    Row(
        "POST",
        f"{E}/result-forms/{{form_id}}/resolve",
        lambda w: f"{E}/result-forms/{w.disputed_form}/resolve",
        api(admin=OK, auditor=OK),
        body=lambda w: mayor_content(),
    ),
    Row(
        "GET",
        f"{E}/quarantine",
        lambda w: f"{E}/quarantine?election={w.election}",
        api(admin=OK, auditor=OK),
        note="every municipality",
    ),
    Row(
        "GET",
        f"{E}/quarantine",
        lambda w: f"{E}/quarantine?election={w.election}&municipality={w.municipality}",
        api(admin=OK, auditor=OK, official=OK),
        note="the official's municipality",
    ),
    Row(
        "GET",
        f"{E}/quarantine",
        lambda w: f"{E}/quarantine?election={w.election}&municipality=38",
        api(admin=OK, auditor=OK),
        note="another municipality",
    ),
    Row(
        "POST",
        f"{E}/result-forms/{{form_id}}/decision",
        lambda w: f"{E}/result-forms/{w.held_form}/decision",
        api(admin=OK, auditor=OK),
        body=lambda w: {"decision": "accept", "reason": "recounted", "version": w.held_version},
    ),
    Row(
        "POST",
        f"{E}/complaints",
        lambda w: f"{E}/complaints",
        api(admin=OK, panel=OK),
        body=lambda w: {
            "election": w.election,
            "municipality": w.municipality,
            "complainant": "A party",
            "subject": "Ballots left unsealed.",
        },
    ),
    Row(
        "POST",
        f"{E}/complaints/{{complaint_id}}/decision",
        lambda w: f"{E}/complaints/{w.complaint}/decision",
        api(admin=OK, panel=OK),
        body=lambda w: {"decision": "rejected", "reasoning": "No evidence."},
    ),
    Row(
        "POST",
        f"{E}/annulments",
        lambda w: f"{E}/annulments",
        api(admin=OK),
        body=lambda w: {
            "election": w.election,
            "municipality": w.municipality,
            "contest": "mayor",
            "stations": [w.station],
            "legal_basis": "Law 03/L-073 art. 119",
            "reason": "Ballot box opened before the count.",
        },
    ),
    Row(
        "POST",
        f"{E}/contests/{{contest_id}}/certification",
        lambda w: f"{E}/contests/{w.contest}/certification",
        api(admin=INVALID),
        note="not ready: forms missing, so the permitted admin gets 409",
    ),
    Row("GET", f"{E}/results/{{municipality_code}}", lambda w: f"{E}/results/{w.municipality}", api_public()),
]

PAGE_ROWS = [
    # the API's own pages
    Row("GET", "/api/v1/", lambda w: "/api/v1/", everyone(NOT_FOUND)),
    Row("GET", "/api/v1/openapi.json", lambda w: "/api/v1/openapi.json", api_public()),
    Row("GET", "/api/v1/docs", lambda w: "/api/v1/docs", api_public()),
    # sign-in
    Row("GET", "/accounts/login/", lambda w: "/accounts/login/", signin()),
    Row("POST", "/accounts/login/", lambda w: "/accounts/login/", signin(), body=lambda w: {}, note="empty form"),
    Row(
        "GET",
        "/accounts/two-factor/",
        lambda w: "/accounts/two-factor/",
        page(REDIRECT, unverified=OK),
        note="a verified session is sent on",
    ),
    Row(
        "POST",
        "/accounts/two-factor/",
        lambda w: "/accounts/two-factor/",
        page(REDIRECT, unverified=OK),
        body=lambda w: {"otp_token": ""},
        note="a wrong code: the page again, with the error",
    ),
    Row(
        "GET",
        "/accounts/two-factor/setup/",
        lambda w: "/accounts/two-factor/setup/",
        page(REDIRECT, unverified=TWO_FACTOR),
        note="an enrolled account cannot enrol a second phone",
    ),
    Row(
        "POST",
        "/accounts/two-factor/setup/",
        lambda w: "/accounts/two-factor/setup/",
        page(REDIRECT, unverified=TWO_FACTOR),
        body=lambda w: {"otp_token": "000000"},
    ),
    Row("GET", "/accounts/logout/", lambda w: "/accounts/logout/", everyone(NOT_ALLOWED)),
    Row(
        "POST",
        "/accounts/logout/",
        lambda w: "/accounts/logout/",
        everyone(REDIRECT),
        body=lambda w: {},
    ),
    Row("GET", "/accounts/password_change/", lambda w: "/accounts/password_change/", page(OK)),
    Row(
        "POST",
        "/accounts/password_change/",
        lambda w: "/accounts/password_change/",
        page(OK),
        body=lambda w: {},
        note="empty form: the page again, with its errors",
    ),
    Row("GET", "/accounts/password_change/done/", lambda w: "/accounts/password_change/done/", page(OK)),
    Row("GET", "/accounts/password_reset/", lambda w: "/accounts/password_reset/", public()),
    Row(
        "POST",
        "/accounts/password_reset/",
        lambda w: "/accounts/password_reset/",
        public(),
        body=lambda w: {},
        note="empty form",
    ),
    Row("GET", "/accounts/password_reset/done/", lambda w: "/accounts/password_reset/done/", public()),
    Row(
        "GET",
        "/accounts/reset/<uidb64>/<token>/",
        lambda w: "/accounts/reset/MQ/bad-token/",
        public(),
        note="a forged link: the 'invalid link' page",
    ),
    Row(
        "POST",
        "/accounts/reset/<uidb64>/<token>/",
        lambda w: "/accounts/reset/MQ/bad-token/",
        public(),
        body=lambda w: {"new_password1": "x" * 16, "new_password2": "x" * 16},
        note="a forged link sets no password",
    ),
    Row("GET", "/accounts/reset/done/", lambda w: "/accounts/reset/done/", public()),
    # the Django admin: its index, its sign-in and the role grants (the rest is excluded below)
    Row("GET", "/admin/", lambda w: "/admin/", page(LOGIN, admin=OK)),
    Row(
        "GET",
        "/admin/login/",
        lambda w: "/admin/login/",
        signin(admin=REDIRECT, unverified=REDIRECT),
        note="staff are sent on to the index (and from there to their code)",
    ),
    Row(
        "GET",
        "/admin/accounts/roleassignment/",
        lambda w: "/admin/accounts/roleassignment/",
        page(LOGIN, admin=OK),
    ),
    # election day
    Row("GET", "/election-day/", lambda w: "/election-day/", page(OK, chair=REDIRECT)),
    Row(
        "GET",
        "/election-day/photos/<int:photo_id>/",
        lambda w: f"/election-day/photos/{w.photo}/",
        page(NOT_FOUND, **READERS),
        note="a photo of an unverified incident",
    ),
    Row(
        "GET",
        "/election-day/<str:code>/dashboard/",
        lambda w: f"/election-day/{w.election}/dashboard/",
        page(OK),
    ),
    Row(
        "GET",
        "/election-day/<str:code>/dashboard/live.json",
        lambda w: f"/election-day/{w.election}/dashboard/live.json",
        page(OK),
    ),
    Row("GET", "/election-day/<str:code>/incidents/", lambda w: f"/election-day/{w.election}/incidents/", page(OK)),
    Row(
        "POST",
        "/election-day/<str:code>/incidents/",
        lambda w: f"/election-day/{w.election}/incidents/",
        page(NOT_FOUND, admin=INVALID, official=INVALID, auditor=DENIED, panel=DENIED),
        body=lambda w: {"incident": str(w.incident)},
        note="a decision without its fields, on an unverified incident",
    ),
    Row(
        "POST",
        "/election-day/<str:code>/incidents/",
        lambda w: f"/election-day/{w.election}/incidents/",
        page(admin=REDIRECT, official=REDIRECT, chair=REDIRECT, observer=REDIRECT),
        body=lambda w: {
            "action": "report",
            "station": w.station,
            "kind": "campaigning",
            "severity": "low",
            "time": "09:30",
            "description": "Leaflets at the door.",
            "client_key": key(),
        },
        note="a complete report from the desk",
    ),
    Row(
        "GET",
        "/election-day/<str:code>/turnout-review/",
        lambda w: f"/election-day/{w.election}/turnout-review/",
        page(admin=OK, official=OK),
    ),
    Row(
        "POST",
        "/election-day/<str:code>/turnout-review/",
        lambda w: f"/election-day/{w.election}/turnout-review/",
        page(admin=INVALID, official=INVALID),
        body=lambda w: {"report": str(w.held_turnout)},
        note="a review without its fields",
    ),
    Row("GET", "/election-day/<str:code>/observers/", lambda w: f"/election-day/{w.election}/observers/", page(OK)),
    Row(
        "POST",
        "/election-day/<str:code>/observers/",
        lambda w: f"/election-day/{w.election}/observers/",
        page(IGNORED, admin=INVALID, official=INVALID),
        body=lambda w: {"reason": ""},
        note="a withdrawal without its fields",
    ),
    Row("GET", "/election-day/<str:code>/stations/", lambda w: f"/election-day/{w.election}/stations/", page(OK)),
    Row(
        "GET",
        "/election-day/<str:code>/station/<path:station>",
        lambda w: f"/election-day/{w.election}/station/{w.station}",
        page(admin=OK, official=OK, chair=OK),
    ),
    Row(
        "GET",
        "/election-day/<str:code>/station/<path:station>",
        lambda w: f"/election-day/{w.election}/station/{w.north}",
        page(admin=OK),
        note="another municipality's station",
    ),
    Row(
        "POST",
        "/election-day/<str:code>/station/<path:station>",
        lambda w: f"/election-day/{w.election}/station/{w.station}",
        page(admin=INVALID, official=INVALID, chair=INVALID),
        body=lambda w: {"action": "nothing"},
        note="an unknown action",
    ),
    # the count
    Row("GET", "/count/<str:code>/", lambda w: f"/count/{w.election}/", page(OK)),
    Row("GET", "/count/<str:code>/entry/", lambda w: f"/count/{w.election}/entry/", page(admin=OK, clerk=OK)),
    Row(
        "POST",
        "/count/<str:code>/entry/",
        lambda w: f"/count/{w.election}/entry/",
        page(admin=INVALID, clerk=INVALID),
        body=lambda w: {"station": w.station, "contest_id": str(w.contest)},
        note="a paper form without its numbers",
    ),
    Row(
        "GET",
        "/count/<str:code>/quarantine/",
        lambda w: f"/count/{w.election}/quarantine/",
        page(admin=OK, auditor=OK),
        note="every municipality",
    ),
    Row(
        "GET",
        "/count/<str:code>/quarantine/",
        lambda w: f"/count/{w.election}/quarantine/?municipality={w.municipality}",
        page(admin=OK, auditor=OK, official=OK),
        note="the official's municipality",
    ),
    Row(
        "GET",
        "/count/<str:code>/forms/<int:form_id>/",
        lambda w: f"/count/{w.election}/forms/{w.held_form}/",
        page(admin=OK, auditor=OK, official=OK),
    ),
    Row(
        "GET",
        "/count/<str:code>/forms/<int:form_id>/",
        lambda w: f"/count/{w.election}/forms/{w.north_form}/",
        page(admin=OK, auditor=OK),
        note="a form of another municipality",
    ),
    Row(
        "POST",
        "/count/<str:code>/forms/<int:form_id>/",
        lambda w: f"/count/{w.election}/forms/{w.held_form}/",
        page(admin=INVALID, auditor=INVALID),
        body=lambda w: {},
        note="a decision without its fields",
    ),
    Row(
        "GET",
        "/count/<str:code>/forms/<int:form_id>/resolve/",
        lambda w: f"/count/{w.election}/forms/{w.disputed_form}/resolve/",
        page(admin=OK, auditor=OK),
    ),
    Row(
        "POST",
        "/count/<str:code>/forms/<int:form_id>/resolve/",
        lambda w: f"/count/{w.election}/forms/{w.disputed_form}/resolve/",
        page(admin=INVALID, auditor=INVALID),
        body=lambda w: {},
        note="a third entry without its numbers",
    ),
    Row(
        "GET",
        "/count/<str:code>/forms/<str:state>.csv",
        lambda w: f"/count/{w.election}/forms/quarantined.csv",
        page(**READERS),
    ),
    Row("GET", "/count/<str:code>/disputed/", lambda w: f"/count/{w.election}/disputed/", page(admin=OK, auditor=OK)),
    Row(
        "GET",
        "/count/<str:code>/complaints/",
        lambda w: f"/count/{w.election}/complaints/",
        page(admin=OK, panel=OK),
    ),
    Row(
        "POST",
        "/count/<str:code>/complaints/",
        lambda w: f"/count/{w.election}/complaints/",
        page(admin=INVALID, panel=INVALID),
        body=lambda w: {},
        note="an empty complaint",
    ),
    Row(
        "POST",
        "/count/<str:code>/complaints/<int:complaint_id>/decision/",
        lambda w: f"/count/{w.election}/complaints/{w.complaint}/decision/",
        page(admin=INVALID, panel=INVALID),
        body=lambda w: {},
        note="a decision without its fields",
    ),
    Row("GET", "/count/<str:code>/progress/", lambda w: f"/count/{w.election}/progress/", page(**READERS)),
    Row(
        "POST",
        "/count/<str:code>/contests/<int:contest_id>/certify/",
        lambda w: f"/count/{w.election}/contests/{w.contest}/certify/",
        page(admin=REDIRECT),
        body=lambda w: {},
        note="not ready: the admin is sent back to progress with the reason",
    ),
    # public results
    Row("GET", "/", lambda w: "/", public()),
    Row("GET", "/elections/<str:code>/", lambda w: f"/elections/{w.election}/", public()),
    Row(
        "GET",
        "/elections/<str:code>/<str:municipality>/",
        lambda w: f"/elections/{w.election}/{w.municipality}/",
        public(),
    ),
    Row(
        "GET",
        "/elections/<str:code>/stations/<str:station>/",
        lambda w: f"/elections/{w.election}/stations/{w.station.replace('/', '_')}/",
        public(),
    ),
    Row("GET", "/elections/<str:code>/integrity/", lambda w: f"/elections/{w.election}/integrity/", public()),
    Row("GET", "/snapshots/", lambda w: "/snapshots/", public()),
    Row("GET", "/snapshots/<str:name>/", lambda w: f"/snapshots/{w.snapshot}/", public()),
    Row(
        "GET",
        "/snapshots/<str:name>/<path:path>",
        lambda w: f"/snapshots/{w.snapshot}/manifest.json",
        public(),
    ),
    Row(
        "GET",
        "/snapshots/<str:name>/<path:path>",
        lambda w: f"/snapshots/{w.snapshot}/..%2F..%2Fkeys%2Fsigning.pem",
        everyone(NOT_FOUND, unverified=TWO_FACTOR),
        note="a path out of the snapshot, to the signing key",
    ),
    Row("GET", "/publication-key.pem", lambda w: "/publication-key.pem", public()),
    # open data
    Row("GET", "/data/", lambda w: "/data/", public()),
    Row("GET", "/data/index.json", lambda w: "/data/index.json", public()),
    Row("GET", "/data/<str:code>/", lambda w: f"/data/{w.election}/", public()),
    Row("GET", "/data/<str:code>/index.json", lambda w: f"/data/{w.election}/index.json", public()),
    Row(
        "POST",
        "/data/<str:code>/index.json",
        lambda w: f"/data/{w.election}/index.json",
        everyone(NOT_ALLOWED, unverified=TWO_FACTOR),
        body=lambda w: {},
        note="open data is read-only",
    ),
]
DATA_FILES = ("results.csv", "results.json", "results-cdf.json", "preferences.csv")
PAGE_ROWS += [
    Row("GET", f"/data/<str:code>/{name}", lambda w, n=name: f"/data/{w.election}/{n}", public())  # type: ignore[misc]
    for name in DATA_FILES
]
PAGE_ROWS += [
    Row(
        "GET",
        f"/data/<str:code>/<str:municipality>/{name}",
        lambda w, n=name: f"/data/{w.election}/{w.municipality}/{n}",  # type: ignore[misc]
        public(),
    )
    for name in DATA_FILES
]

TABLE: list[Row] = API_ROWS + PAGE_ROWS

# Routes with no row, and why. Keys are route prefixes as the resolver spells them.
EXCLUDED = {
    "/admin/": "Django's admin beyond its index, sign-in and the role grants: every page there answers to "
    "admin.site.has_permission (an active staff account, i.e. the administrator) before any model code "
    "runs; the rows for /admin/ and /admin/accounts/roleassignment/ stand for them all.",
    "/i18n/setlang/": "Django's language switch: it sets a cookie, reads and writes no data, same for everyone.",
}
# Static files are served by WhiteNoise outside the URL configuration, so they are not endpoints here.
