"""The clerks' entry desk and the auditors' queue, through the HTML pages."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from tallyroom.elections.models import Contest
from tallyroom.results.content import FormContent
from tallyroom.results.models import AuditorDecision, DataEntry, FormKind, FormState, ResultForm
from tests.results.pages import ELECTION, STATION, ballot_post, client_for, content, held_form, users

pytestmark = pytest.mark.django_db
__all__ = ["users"]

ENTRY = f"/count/{ELECTION}/entry/"
QUEUE = f"/count/{ELECTION}/quarantine/"


def _assembly() -> Contest:
    return Contest.objects.get(municipality__code="01", kind="assembly", round__code="R1")


@pytest.mark.parametrize(
    ("url", "allowed", "refused"),
    [
        (ENTRY, ["clerk", "admin"], ["official", "chair", "auditor", "panel", "observer"]),
        (QUEUE, ["auditor", "admin"], ["clerk", "chair", "panel", "observer"]),
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


def test_the_official_reads_the_queue_of_their_own_municipality_only(users: dict[str, User]) -> None:
    official = client_for(users["official"])
    assert official.get(QUEUE + "?municipality=01").status_code == 200
    assert official.get(QUEUE + "?municipality=38").status_code == 403


def test_entry_form_is_keyboard_ready(users: dict[str, User]) -> None:
    clerk = client_for(users["clerk"])
    empty = clerk.get(ENTRY).content.decode()
    assert empty.count('autofocus="autofocus"') == 1
    assert 'autofocus="autofocus"' in empty.split('name="station"')[1].split(">")[0]
    page = clerk.get(ENTRY, {"station": "0101c/01r", "contest": "assembly", "round": "R1"})
    assert page.status_code == 200
    html = page.content.decode()
    # Counts, then one input per entity in ballot order, then preferences per list position.
    order = [html.index(f'name="{n}"') for n in ("signatures", "invalid", "votes__BLUE", "votes__GREEN")]
    assert order == sorted(order)
    assert 'name="pref__BLUE__3"' in html
    assert 'name="pref__GREEN__2"' in html
    assert 'inputmode="numeric"' in html
    assert html.count('autofocus="autofocus"') == 1  # on the first count, not the station field
    assert 'autofocus="autofocus"' in html.split('name="signatures"')[1].split(">")[0]
    missing = clerk.get(ENTRY, {"station": "9999X/01R", "contest": "assembly", "round": "R1"})
    assert missing.status_code == 404
    assert "9999X/01R" in missing.content.decode()


def test_two_blind_entries_verify_the_form_through_the_pages(users: dict[str, User]) -> None:
    contest = _assembly()
    typed = FormContent(**{**content({"BLUE": 300, "GREEN": 200}).__dict__, "preferences": {"BLUE": {1: 40}}})
    first_client = client_for(users["clerk"])
    first = first_client.post(ENTRY, ballot_post(STATION, contest, typed))
    assert first.status_code == 302
    after = first_client.get(first["Location"])
    assert "First entry recorded" in after.content.decode()
    assert 'name="votes__BLUE"' not in after.content.decode()  # back to the station field
    again = first_client.post(ENTRY, ballot_post(STATION, contest, typed))
    assert again.status_code == 409
    assert "second clerk" in again.content.decode()
    second_client = client_for(users["clerk2"])
    second = second_client.post(ENTRY, ballot_post(STATION, contest, typed))
    assert second.status_code == 302
    shown = second_client.get(second["Location"]).content.decode()
    assert "verified and accepted" in shown
    form = ResultForm.objects.get(station__code=STATION, contest=contest, kind=FormKind.OFFICIAL)
    assert (form.state, form.counted) == (FormState.ACCEPTED, True)
    assert DataEntry.objects.filter(form=form).count() == 2


def test_differing_entries_name_the_fields_but_never_the_other_values(users: dict[str, User]) -> None:
    contest = _assembly()
    client_for(users["clerk"]).post(ENTRY, ballot_post(STATION, contest, content({"BLUE": 300, "GREEN": 200})))
    second_client = client_for(users["clerk2"])
    second = second_client.post(ENTRY, ballot_post(STATION, contest, content({"BLUE": 301, "GREEN": 200})))
    html = second_client.get(second["Location"]).content.decode()
    assert "entries differ" in html
    assert "votes for BLUE" in html
    assert "votes for GREEN" not in html
    assert "300" not in html  # the first clerk's number stays blind
    assert ResultForm.objects.get(station__code=STATION, contest=contest).state == FormState.DISPUTED


def test_a_bad_number_is_refused_on_the_form_and_nothing_is_stored(users: dict[str, User]) -> None:
    data = ballot_post(STATION, _assembly(), content({"BLUE": 300, "GREEN": 200}))
    data["votes__BLUE"] = "-4"
    response = client_for(users["clerk"]).post(ENTRY, data)
    assert response.status_code == 422
    assert not DataEntry.objects.exists()


def test_queue_lists_the_held_form_and_filters_by_check(users: dict[str, User]) -> None:
    form = held_form()
    check = form.flags.first().check_code  # type: ignore[union-attr]
    auditor = client_for(users["auditor"])
    page = auditor.get(QUEUE, {"municipality": "01", "check": check}).content.decode()
    assert f"/count/{ELECTION}/forms/{form.pk}/" in page
    other = auditor.get(QUEUE, {"check": "no_such_check"}).content.decode()
    assert f"/forms/{form.pk}/" not in other


def test_auditor_decides_through_the_page_and_a_second_decision_gets_the_409_message(users: dict[str, User]) -> None:
    form = held_form()
    url = f"/count/{ELECTION}/forms/{form.pk}/"
    auditor = client_for(users["auditor"])
    page = auditor.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert form.flags.first().message in html  # type: ignore[union-attr]
    assert client_for(users["clerk"]).get(url).status_code == 403
    no_reason = auditor.post(url, {"decision": "accept", "reason": "", "version": form.version})
    assert no_reason.status_code == 422
    done = auditor.post(url, {"decision": "exclude", "reason": "ballot box tampered", "version": form.version})
    assert done.status_code == 302
    form.refresh_from_db()
    assert form.state == FormState.EXCLUDED
    late = client_for(users["admin"]).post(url, {"decision": "accept", "reason": "fine", "version": form.version})
    assert late.status_code == 409
    assert "no longer quarantined" in late.content.decode()


def test_correction_after_recount_through_the_page(users: dict[str, User]) -> None:
    form = held_form()
    url = f"/count/{ELECTION}/forms/{form.pk}/"
    recounted = content({"BLUE": 400, "GREEN": 201})
    data = {"decision": "correct", "reason": "recounted", "version": form.version, "recount": ""}
    data.update(ballot_post(STATION, form.contest, recounted, prefix="c"))
    auditor = client_for(users["auditor"])
    assert auditor.post(url, data).status_code == 422  # the recount record is required
    data["recount"] = "Recount 2025-10-14 by team 3, record R-17"
    assert auditor.post(url, data).status_code == 302
    form.refresh_from_db()
    assert (form.state, form.counted, form.valid) == (FormState.ACCEPTED, True, 601)
    decision = AuditorDecision.objects.get(form=form)
    assert decision.recount == {"record": "Recount 2025-10-14 by team 3, record R-17"}


def test_detail_shows_preliminary_and_official_side_by_side(users: dict[str, User]) -> None:
    prelim = held_form()
    contest = _assembly()
    client_for(users["clerk"]).post(ENTRY, ballot_post(STATION, contest, content({"BLUE": 600, "GREEN": 2})))
    client_for(users["clerk2"]).post(ENTRY, ballot_post(STATION, contest, content({"BLUE": 600, "GREEN": 2})))
    official = ResultForm.objects.get(station__code=STATION, contest=contest, kind=FormKind.OFFICIAL)
    assert official.state == FormState.QUARANTINED
    html = client_for(users["auditor"]).get(f"/count/{ELECTION}/forms/{official.pk}/").content.decode()
    assert f"#{prelim.pk}" in html
    assert 'class="differs"' in html


@pytest.mark.parametrize(("prefix", "heading"), [("sq", "Radha e karantinës"), ("sr-latn", "Red za karantin")])
def test_pages_speak_albanian_and_serbian(users: dict[str, User], prefix: str, heading: str) -> None:
    held_form()
    auditor = client_for(users["auditor"])
    page = auditor.get(f"/{prefix}/count/{ELECTION}/quarantine/")
    assert page.status_code == 200
    assert heading in page.content.decode()
    clerk = client_for(users["clerk"])
    entry = clerk.get(f"/{prefix}/count/{ELECTION}/entry/", {"station": STATION, "contest": "assembly", "round": "R1"})
    assert entry.status_code == 200
