"""The complaints panel and the commission's progress page, CSV lists and certification."""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib.auth.models import User

from tallyroom.elections.models import Contest, Election, PollingStation, Round
from tallyroom.results.models import AuditorDecision, Certification, Complaint, FormKind, FormState, ResultForm
from tallyroom.results.services import quarantine_decide, result_form_submit
from tests.results.pages import ELECTION, STATION, client_for, content, held_form, users

pytestmark = pytest.mark.django_db
__all__ = ["users"]

COMPLAINTS = f"/count/{ELECTION}/complaints/"
PROGRESS = f"/count/{ELECTION}/progress/"
CSV_Q = f"/count/{ELECTION}/forms/quarantined.csv"
CSV_X = f"/count/{ELECTION}/forms/excluded.csv"


@pytest.mark.parametrize(
    ("url", "allowed", "refused"),
    [
        (COMPLAINTS, ["panel", "admin"], ["official", "chair", "clerk", "auditor", "observer"]),
        (PROGRESS, ["admin", "auditor", "panel", "official"], ["chair", "clerk", "observer"]),
        (CSV_Q, ["admin", "auditor", "panel", "official"], ["chair", "clerk", "observer"]),
        (f"/count/{ELECTION}/", ["admin", "clerk", "auditor", "panel"], []),
    ],
)
def test_pages_by_role(users: dict[str, User], url: str, allowed: list[str], refused: list[str]) -> None:
    anonymous = client_for(None).get(url)
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/accounts/login/")
    for role in allowed:
        assert client_for(users[role]).get(url).status_code == 200, role
    for role in refused:
        assert client_for(users[role]).get(url).status_code == 403, role


def test_complaint_recorded_listed_with_deadline_and_decided_as_recount(users: dict[str, User]) -> None:
    contest = Contest.objects.get(municipality__code="01", kind="assembly", round__code="R1")
    result_form_submit(
        station=PollingStation.objects.get(code=STATION),
        contest=contest,
        content=content({"BLUE": 300, "GREEN": 200}),
        actor="chair",
        role="chair",
    )
    panel = client_for(users["panel"])
    bad = panel.post(COMPLAINTS, {"municipality": "01", "station": "9999X/01R", "complainant": "x", "subject": "y"})
    assert bad.status_code == 422
    filed = panel.post(
        COMPLAINTS,
        {
            "municipality": "01",
            "station": "0101c/01r",
            "contest": "assembly",
            "complainant": "Green Coalition",
            "subject": "Votes counted for the wrong list",
        },
    )
    assert filed.status_code == 302
    complaint = Complaint.objects.get()
    assert (complaint.station.code, complaint.contest_id, complaint.state) == (STATION, contest.pk, "open")  # type: ignore[union-attr]
    page = panel.get(COMPLAINTS).content.decode()
    assert "Votes counted for the wrong list" in page
    assert complaint.decide_by.strftime("%Y-%m-%d") in page
    decide = f"/count/{ELECTION}/complaints/{complaint.pk}/decision/"
    missing_basis = panel.post(decide, {"decision": "annulment", "reasoning": "irregular"})
    assert missing_basis.status_code == 422
    assert client_for(users["auditor"]).post(decide, {"decision": "rejected", "reasoning": "no"}).status_code == 403
    done = panel.post(decide, {"decision": "recount", "reasoning": "the counts disagree with the protocol"})
    assert done.status_code == 302
    complaint.refresh_from_db()
    assert (complaint.state, complaint.decision) == ("decided", "recount")
    form = ResultForm.objects.get(station__code=STATION, contest=contest)
    assert form.state == FormState.QUARANTINED
    again = panel.post(decide, {"decision": "rejected", "reasoning": "again"})
    assert again.status_code == 409
    assert "already decided" in again.content.decode()


def test_complaint_decided_as_annulment_with_repeat_round(users: dict[str, User], small_election: Election) -> None:
    repeat = Round.objects.create(
        election=small_election, code="RV1", kind=Round.Kind.REPEAT, date="2025-10-26", name_en="Repeat"
    )
    panel = client_for(users["admin"])
    panel.post(
        COMPLAINTS,
        {"municipality": "01", "station": STATION, "contest": "mayor", "complainant": "A", "subject": "Stuffing"},
    )
    complaint = Complaint.objects.get()
    response = panel.post(
        f"/count/{ELECTION}/complaints/{complaint.pk}/decision/",
        {
            "decision": "annulment",
            "reasoning": "ballot stuffing",
            "legal_basis": "Law 03/L-073 art. 119",
            "repeat_round": "RV1",
        },
    )
    assert response.status_code == 302
    complaint.refresh_from_db()
    assert complaint.decision == "annulment"
    assert Contest.objects.filter(round=repeat, municipality__code="01", kind="mayor").exists()


def test_progress_counts_stations_per_state_and_names_blockers(users: dict[str, User]) -> None:
    held_form()
    html = client_for(users["admin"]).get(PROGRESS, {"municipality": "01"}).content.decode()
    assert "station(s) with a quarantined form" in html
    assert "station(s) not yet accounted for" in html
    official = client_for(users["official"]).get(PROGRESS).content.decode()
    assert "Deçan" in official
    assert "38 " not in official.split("<tbody>")[1]


def _decide(form: ResultForm, users: dict[str, User], decision: AuditorDecision.Decision) -> None:
    quarantine_decide(auditor=users["auditor"], form=form, decision=decision, reason=f"{decision} it")


def test_csv_lists_of_quarantined_and_excluded_forms_filtered_by_check(users: dict[str, User]) -> None:
    held = held_form()
    excluded = held_form("0102B/01R")
    _decide(excluded, users, AuditorDecision.Decision.EXCLUDE)
    check = held.flags.first().check_code  # type: ignore[union-attr]
    auditor = client_for(users["auditor"])
    response = auditor.get(CSV_Q, {"check": check})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8"))))
    assert rows[0][:3] == ["form_id", "municipality", "station"]
    assert [r[2] for r in rows[1:]] == [STATION]
    assert check in rows[1][8]
    none = list(csv.reader(io.StringIO(auditor.get(CSV_Q, {"check": "no_such_check"}).content.decode())))
    assert len(none) == 1
    gone = list(csv.reader(io.StringIO(auditor.get(CSV_X, {"check": check}).content.decode())))
    assert [(r[2], r[6], r[10]) for r in gone[1:]] == [("0102B/01R", "excluded", "exclude it")]
    assert client_for(users["auditor"]).get(f"/count/{ELECTION}/forms/other.csv").status_code == 404


def test_certification_via_the_page(users: dict[str, User]) -> None:
    contest = Contest.objects.get(municipality__code="01", kind="assembly", round__code="R1")
    admin = client_for(users["admin"])
    url = f"/count/{ELECTION}/contests/{contest.pk}/certify/"
    refused = admin.post(url, follow=True)
    assert "Cannot certify yet" in refused.content.decode()
    assert not Certification.objects.exists()
    for code, votes in (
        ("0101C/01R", {"BLUE": 300, "GREEN": 200}),
        ("0101C/02D", {"BLUE": 200, "GREEN": 150}),
        ("0102B/01R", {"BLUE": 250, "GREEN": 300}),
    ):
        station = PollingStation.objects.get(code=code)
        outcome = result_form_submit(
            station=station,
            contest=contest,
            content=content(votes, registered=station.registered_voters),
            kind=FormKind.OFFICIAL,
            actor="import",
            role="admin",
        )
        assert outcome.status == "accepted", outcome.flags
    page = admin.get(PROGRESS, {"municipality": "01"}).content.decode()
    assert url in page  # the Certify button
    assert url not in client_for(users["auditor"]).get(PROGRESS, {"municipality": "01"}).content.decode()
    assert client_for(users["auditor"]).post(url).status_code == 403
    done = admin.post(url)
    assert done.status_code == 302
    assert Certification.objects.filter(contest=contest, revoked_at__isnull=True).exists()
    assert "certified" in admin.get(PROGRESS, {"municipality": "01"}).content.decode()
