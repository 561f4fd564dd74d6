"""The supervisor's third entry through the pages, and official against preliminary on a form's page."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from tallyroom.audit.models import AuditEntry
from tallyroom.elections.models import Contest
from tallyroom.results.models import DataEntry, FormKind, FormState, ResultForm, TallyVote
from tallyroom.results.tally import tally_recompute
from tests.conftest import db_counts
from tests.results.pages import ELECTION, STATION, ballot_post, client_for, content, users

pytestmark = pytest.mark.django_db
__all__ = ["users"]

ENTRY = f"/count/{ELECTION}/entry/"
DISPUTED = f"/count/{ELECTION}/disputed/"


def _assembly() -> Contest:
    return Contest.objects.get(municipality__code="01", kind="assembly", round__code="R1")


def disputed_form(users: dict[str, User]) -> ResultForm:
    """Two clerks typed the paper form blind and differ in one box: BLUE's votes (300 against 310)."""
    contest = _assembly()
    typed = ballot_post(STATION, contest, content({"BLUE": 300, "GREEN": 200}))
    client_for(users["clerk"]).post(ENTRY, typed)
    client_for(users["clerk2"]).post(ENTRY, {**typed, "votes__BLUE": "310"})
    form = ResultForm.objects.get(station__code=STATION, contest=contest, kind=FormKind.OFFICIAL)
    assert form.state == FormState.DISPUTED
    return form


def resolve_url(form: ResultForm) -> str:
    return f"/count/{ELECTION}/forms/{form.pk}/resolve/"


def test_only_supervisors_open_the_pages(users: dict[str, User]) -> None:
    form = disputed_form(users)
    for url in (DISPUTED, resolve_url(form)):
        anonymous = client_for(None).get(url)
        assert anonymous.status_code == 302
        assert anonymous["Location"].startswith("/accounts/login/")
        for role in ("auditor", "admin"):
            assert client_for(users[role]).get(url).status_code == 200, (url, role)
        for role in ("clerk", "clerk2", "official", "chair", "panel", "observer"):
            assert client_for(users[role]).get(url).status_code == 403, (url, role)


def test_the_list_links_each_disputed_form(users: dict[str, User]) -> None:
    form = disputed_form(users)
    html = client_for(users["auditor"]).get(DISPUTED).content.decode()
    assert resolve_url(form) in html
    assert STATION in html
    assert "1 form to settle." in html


def test_both_entries_side_by_side_with_the_differing_box_highlighted(users: dict[str, User]) -> None:
    form = disputed_form(users)
    html = client_for(users["auditor"]).get(resolve_url(form)).content.decode()
    assert "Entry 1 · p-clerk" in html
    assert "Entry 2 · p-clerk-2" in html
    assert "1 box differs; it is highlighted." in html
    highlighted = [row for row in html.split("<tr")[1:] if row.startswith(' class="differs"')]
    assert len(highlighted) == 1
    assert ">300<" in highlighted[0]
    assert ">310<" in highlighted[0]
    # The third entry: agreed boxes filled in, the differing one empty, marked and focused.
    assert 'name="t-votes__GREEN" value="200"' in html
    blue = html.split('name="t-votes__BLUE"')[1].split(">")[0]
    assert "value=" not in blue
    assert "differs" in html.split('name="t-votes__BLUE"')[0].rsplit("<input", 1)[1] + blue
    assert "autofocus" in html.split('name="t-votes__BLUE"')[0].rsplit("<input", 1)[1] + blue
    assert 'name="csrfmiddlewaretoken"' in html


def test_the_third_entry_settles_the_form_counts_it_and_is_audited(users: dict[str, User]) -> None:
    form = disputed_form(users)
    third = content({"BLUE": 305, "GREEN": 200})
    auditor = client_for(users["auditor"])
    response = auditor.post(resolve_url(form), ballot_post(STATION, form.contest, third, "t"))
    assert response.status_code == 302
    assert response["Location"] == DISPUTED
    form.refresh_from_db()
    assert (form.state, form.counted, form.valid) == (FormState.ACCEPTED, True, 505)
    entry = DataEntry.objects.get(form=form, number=3)
    assert entry.clerk == users["auditor"]
    assert entry.content["votes"] == {"BLUE": 305, "GREEN": 200}
    assert dict(TallyVote.objects.filter(contest=form.contest).values_list("entity__code", "votes")) == {
        "BLUE": 305,
        "GREEN": 200,
    }
    assert tally_recompute() == []
    audit = AuditEntry.objects.filter(action="data_entry.resolved", object_id=str(form.pk)).get()
    assert (audit.actor, audit.role) == ("p-auditor", "auditor")
    listing = auditor.get(DISPUTED).content.decode()
    assert f"Form {form.pk} of station {STATION} is settled: accepted." in listing
    assert resolve_url(form) not in listing
    # Settled: the page shows the entries and who settled them, and no form any more.
    page = auditor.get(resolve_url(form)).content.decode()
    assert "Settled by p-auditor" in page
    assert 'name="t-votes__BLUE"' not in page


@pytest.mark.parametrize(("field", "value"), [("t-votes__BLUE", "-5"), ("t-votes__BLUE", ""), ("t-invalid", "x")])
def test_a_bad_third_entry_is_refused_with_its_reason_and_stores_nothing(
    users: dict[str, User], field: str, value: str
) -> None:
    form = disputed_form(users)
    data = ballot_post(STATION, form.contest, content({"BLUE": 305, "GREEN": 200}), "t")
    data[field] = value
    before = db_counts()
    response = client_for(users["auditor"]).post(resolve_url(form), data)
    assert response.status_code == 422
    html = response.content.decode()
    assert "Nothing was recorded." in html
    assert 'class="errorlist"' in html
    assert db_counts() == before
    form.refresh_from_db()
    assert form.state == FormState.DISPUTED
    assert not DataEntry.objects.filter(form=form, number=3).exists()


def test_a_second_supervisor_gets_the_409_message_and_a_clerk_is_refused(users: dict[str, User]) -> None:
    form = disputed_form(users)
    data = ballot_post(STATION, form.contest, content({"BLUE": 305, "GREEN": 200}), "t")
    before = db_counts()
    assert client_for(users["clerk"]).post(resolve_url(form), data).status_code == 403
    assert db_counts() == before
    assert client_for(users["auditor"]).post(resolve_url(form), data).status_code == 302
    settled = db_counts()
    data["t-votes__BLUE"] = "310"
    late = client_for(users["admin"]).post(resolve_url(form), data)
    assert late.status_code == 409
    assert "not disputed" in late.content.decode()
    assert db_counts() == settled
    form.refresh_from_db()
    assert form.valid == 505


def test_a_form_without_two_entries_has_nothing_to_settle(users: dict[str, User]) -> None:
    contest = _assembly()
    client_for(users["clerk"]).post(ENTRY, ballot_post(STATION, contest, content({"BLUE": 300, "GREEN": 200})))
    form = ResultForm.objects.get(station__code=STATION, contest=contest, kind=FormKind.OFFICIAL)
    auditor = client_for(users["auditor"])
    assert "no two entries to settle" in auditor.get(resolve_url(form)).content.decode()
    before = db_counts()
    refused = auditor.post(resolve_url(form), ballot_post(STATION, contest, content({"BLUE": 1, "GREEN": 1}), "t"))
    assert refused.status_code == 409
    assert db_counts() == before


def test_the_form_page_shows_official_and_preliminary_and_their_difference(users: dict[str, User]) -> None:
    contest = _assembly()
    chair = client_for(users["chair"])
    sent = chair.post(
        "/api/v1/result-forms",
        {"station": STATION, "contest": "assembly", **content({"BLUE": 300, "GREEN": 200}).as_dict()},
        content_type="application/json",
        headers={"Idempotency-Key": "pages-resolve-prelim"},
    )
    assert sent.status_code == 201, sent.content
    official = content({"BLUE": 290, "GREEN": 212})
    client_for(users["clerk"]).post(ENTRY, ballot_post(STATION, contest, official))
    client_for(users["clerk2"]).post(ENTRY, ballot_post(STATION, contest, official))
    form = ResultForm.objects.get(station__code=STATION, contest=contest, kind=FormKind.OFFICIAL)
    assert (form.state, form.counted) == (FormState.ACCEPTED, True)
    page = client_for(users["auditor"]).get(f"/count/{ELECTION}/forms/{form.pk}/")
    html = page.content.decode()
    assert "Difference (official − preliminary)" in html
    rows = {row.split("</th>")[0].split(">")[-1]: row for row in html.split("<tr")[1:] if "</th>" in row}
    assert 'class="num difference">-10<' in rows["BLUE"]
    assert 'class="num difference">+12<' in rows["GREEN"]
    assert 'class="num difference">0<' in rows["Invalid ballots (blank included)"]
    assert 'class="differs"' in rows["BLUE"]


def test_a_disputed_form_page_links_to_its_settlement(users: dict[str, User]) -> None:
    form = disputed_form(users)
    html = client_for(users["auditor"]).get(f"/count/{ELECTION}/forms/{form.pk}/").content.decode()
    assert resolve_url(form) in html
    assert "Difference (official − preliminary)" not in html


@pytest.mark.parametrize(
    ("prefix", "heading"), [("sq", "Zgjidh futjet që ndryshojnë"), ("sr-latn", "Reši unose koji se razlikuju")]
)
def test_the_supervisor_page_speaks_albanian_and_serbian(users: dict[str, User], prefix: str, heading: str) -> None:
    form = disputed_form(users)
    page = client_for(users["auditor"]).get(f"/{prefix}/count/{ELECTION}/forms/{form.pk}/resolve/")
    assert page.status_code == 200
    assert heading in page.content.decode()
