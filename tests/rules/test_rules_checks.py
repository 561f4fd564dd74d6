"""Result-form checks: reconciliation, plausibility, skipped checks, double entry."""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tallyroom.rules import (
    KOSOVO_CHECKS,
    CheckCode,
    CheckConfig,
    InvalidInputError,
    RulesErrorCode,
    Severity,
    SkipReason,
    StationForm,
    check_cross_race,
    check_form,
    compare_entries,
)
from tallyroom.rules.checks import pct

GOOD = StationForm(
    registered=800,
    signatures=412,
    ballots_received=820,
    ballots_used=412,
    ballots_unused=406,
    ballots_spoiled=2,
    valid=400,
    invalid=12,
    blank=5,
    votes={"PDK": 150, "LDK": 140, "VV": 110},
    preferences={"PDK": {"p1": 80, "p2": 40}, "LDK": {"l1": 140}, "VV": {}},
    signed=True,
)


def codes(form: StationForm, config: CheckConfig = KOSOVO_CHECKS) -> set[CheckCode]:
    return set(check_form(form, config).codes())


def test_a_good_form_passes_everything_it_can_check() -> None:
    report = check_form(GOOD, choices={"PDK", "LDK", "VV"})
    assert report.failures == ()
    assert report.ok
    # Only the checks disabled by configuration are skipped.
    assert {(s.code, s.reason) for s in report.skipped} == {(CheckCode.HIGH_BLANK_SHARE, SkipReason.DISABLED)}
    assert CheckCode.BALLOT_RECONCILIATION in report.passed


def test_ballot_reconciliation() -> None:
    form = dataclasses.replace(GOOD, ballots_unused=400)
    report = check_form(form)
    [failure] = [f for f in report.failures if f.code is CheckCode.BALLOT_RECONCILIATION]
    assert failure.severity is Severity.ERROR
    assert failure.observed == 412 + 400 + 2
    assert failure.limit == 820
    assert failure.fields == (
        "ballots_received",
        "ballots_used",
        "ballots_unused",
        "ballots_spoiled",
    )
    assert "820" in failure.message
    assert not report.ok
    tolerant = CheckConfig(reconciliation_tolerance=6)
    assert CheckCode.BALLOT_RECONCILIATION not in codes(form, tolerant)


def test_conditional_envelopes_in_reconciliation_when_configured() -> None:
    form = dataclasses.replace(GOOD, ballots_unused=401, conditional=5)
    assert CheckCode.BALLOT_RECONCILIATION in codes(form)
    config = CheckConfig(conditional_in_reconciliation=True)
    assert CheckCode.BALLOT_RECONCILIATION not in codes(form, config)
    missing = check_form(dataclasses.replace(GOOD, conditional=None), config)
    assert any(s.code is CheckCode.BALLOT_RECONCILIATION and s.missing == ("conditional",) for s in missing.skipped)


def test_used_equals_valid_plus_invalid() -> None:
    assert CheckCode.BALLOTS_USED_MISMATCH in codes(dataclasses.replace(GOOD, invalid=11))


def test_blank_is_part_of_invalid() -> None:
    assert CheckCode.BLANK_EXCEEDS_INVALID in codes(dataclasses.replace(GOOD, blank=13))


def test_entity_votes_add_up_to_valid() -> None:
    form = dataclasses.replace(GOOD, votes={"PDK": 150, "LDK": 140, "VV": 111})
    [failure] = [f for f in check_form(form).failures if f.code is CheckCode.VOTES_NOT_EQUAL_VALID]
    assert (failure.observed, failure.limit) == (401, 400)


def test_preference_votes_within_entity_votes() -> None:
    form = dataclasses.replace(GOOD, preferences={"PDK": {"p1": 151}, "LDK": {"l1": 100, "l2": 41}, "AKR": {"a1": 1}})
    failures = check_form(form).failures
    each = {f.subject: (f.observed, f.limit) for f in failures if f.code is CheckCode.PREFERENCE_EXCEEDS_ENTITY}
    # A candidate above the entity's votes; a candidate of an entity with no votes at all.
    assert each == {"PDK/p1": (151, 150), "AKR/a1": (1, 0)}
    total = {f.subject: (f.observed, f.limit) for f in failures if f.code is CheckCode.PREFERENCES_EXCEED_LIMIT}
    # One preference per ballot: an entity's preference votes cannot exceed its votes.
    assert total == {"PDK": (151, 150), "LDK": (141, 140), "AKR": (1, 0)}
    # Where ballots carry up to 5 preferences (Kosovo Assembly since 2010), sums may be larger.
    five = CheckConfig(max_preferences=5)
    assert {f.subject for f in check_form(form, five).failures if f.code is CheckCode.PREFERENCES_EXCEED_LIMIT} == {
        "AKR"
    }


def test_turnout_above_registered_with_allowance() -> None:
    form = dataclasses.replace(GOOD, registered=410)
    report = check_form(form)
    [failure] = [f for f in report.failures if f.code is CheckCode.TURNOUT_EXCEEDS_REGISTERED]
    assert (failure.observed, failure.limit) == (412, 410)
    assert CheckCode.SIGNATURES_EXCEED_REGISTERED in report.codes()
    allowance = CheckConfig(registered_allowance_votes=2)
    assert CheckCode.TURNOUT_EXCEEDS_REGISTERED not in codes(form, allowance)
    share = CheckConfig(registered_allowance_share=Fraction(1, 100))  # 4.1 -> up to 414
    assert CheckCode.TURNOUT_EXCEEDS_REGISTERED not in codes(form, share)


def test_ballots_against_signatures() -> None:
    form = dataclasses.replace(GOOD, signatures=410)
    assert CheckCode.BALLOTS_EXCEED_SIGNATURES in codes(form)
    assert CheckCode.BALLOTS_EXCEED_SIGNATURES not in codes(form, CheckConfig(signatures_tolerance=2))


def test_statistical_warnings() -> None:
    form = StationForm(registered=100, ballots_used=95, valid=80, invalid=15, votes={"A": 76, "B": 4})
    report = check_form(form)
    by_code = {f.code: f for f in report.failures}
    assert by_code[CheckCode.HIGH_TURNOUT].observed == Fraction(95, 100)
    assert by_code[CheckCode.DOMINANT_CHOICE].observed == Fraction(95, 100)  # at 95 %: flagged
    assert by_code[CheckCode.DOMINANT_CHOICE].subject == "A"
    assert by_code[CheckCode.HIGH_INVALID_SHARE].limit == Fraction(1, 10)
    assert all(f.severity is Severity.WARNING for f in by_code.values() if f.code is not CheckCode.INCOMPLETE_FORM)
    # Warnings alone never make a form "not ok" (here only completeness is an error).
    assert check_form(form, CheckConfig(required_fields=())).ok
    quiet = CheckConfig(high_turnout_share=None, dominant_share=None, invalid_share=None)
    assert not codes(form, quiet) & {
        CheckCode.HIGH_TURNOUT,
        CheckCode.DOMINANT_CHOICE,
        CheckCode.HIGH_INVALID_SHARE,
    }
    assert CheckCode.DOMINANT_CHOICE not in codes(form, CheckConfig(dominant_min_valid=81))


def test_invalid_share_is_strictly_above() -> None:
    at_limit = StationForm(ballots_used=100, valid=90, invalid=10)
    assert CheckCode.HIGH_INVALID_SHARE not in codes(at_limit)
    assert CheckCode.HIGH_INVALID_SHARE in codes(dataclasses.replace(at_limit, valid=89, invalid=11))


def test_blank_share_when_enabled() -> None:
    form = StationForm(ballots_used=100, valid=70, invalid=30, blank=25)
    assert CheckCode.HIGH_BLANK_SHARE in codes(form, CheckConfig(blank_share=Fraction(1, 5)))


def test_missing_inputs_are_skipped_and_reported() -> None:
    report = check_form(StationForm(valid=10, votes={"A": 10}))
    skipped = {s.code: s for s in report.skipped}
    assert skipped[CheckCode.BALLOT_RECONCILIATION].reason is SkipReason.MISSING_INPUT
    assert "ballots_received" in skipped[CheckCode.BALLOT_RECONCILIATION].missing
    assert skipped[CheckCode.TURNOUT_EXCEEDS_REGISTERED].missing == ("registered", "ballots_used")
    assert skipped[CheckCode.FORM_NOT_SIGNED].missing == ("signed",)
    assert skipped[CheckCode.UNKNOWN_CHOICE].missing == ("choices",)
    assert CheckCode.BALLOT_RECONCILIATION not in report.passed
    assert CheckCode.VOTES_NOT_EQUAL_VALID in report.passed
    assert not report.clean
    incomplete = [f for f in report.failures if f.code is CheckCode.INCOMPLETE_FORM]
    assert incomplete[0].fields == (
        "registered",
        "ballots_received",
        "ballots_used",
        "ballots_unused",
        "ballots_spoiled",
        "invalid",
    )


def test_turnout_uses_valid_plus_invalid_when_the_box_count_is_missing() -> None:
    form = StationForm(registered=10, valid=9, invalid=2)
    assert form.ballots_cast == 11
    assert CheckCode.TURNOUT_EXCEEDS_REGISTERED in codes(form)


def test_negative_counts() -> None:
    form = dataclasses.replace(GOOD, ballots_spoiled=-2, votes={"PDK": -1, "LDK": 401, "VV": 0})
    negative = [f for f in check_form(form).failures if f.code is CheckCode.NEGATIVE_COUNT]
    assert {(f.fields, f.observed) for f in negative} == {(("ballots_spoiled",), -2), (("votes",), -1)}


def test_unsigned_form() -> None:
    assert CheckCode.FORM_NOT_SIGNED in codes(dataclasses.replace(GOOD, signed=False))
    assert CheckCode.FORM_NOT_SIGNED not in codes(
        dataclasses.replace(GOOD, signed=False), CheckConfig(require_signature=False)
    )


def test_unknown_choices_and_candidates() -> None:
    report = check_form(
        GOOD,
        choices={"PDK", "LDK"},
        candidates={"PDK": {"p1"}, "LDK": {"l1"}, "VV": set()},
    )
    unknown = {f.subject for f in report.failures if f.code is CheckCode.UNKNOWN_CHOICE}
    assert unknown == {"VV", "PDK/p2"}


def test_double_entry() -> None:
    assert compare_entries(GOOD, dataclasses.replace(GOOD)).failures == ()
    second = dataclasses.replace(GOOD, invalid=21, votes={"PDK": 150, "LDK": 104, "VV": 110})
    report = compare_entries(GOOD, second)
    assert {f.subject for f in report.failures} == {"invalid", "votes"}
    assert all(f.code is CheckCode.DOUBLE_ENTRY_MISMATCH for f in report.failures)


def test_mayor_and_assembly_ballots_at_one_station() -> None:
    mayor = dataclasses.replace(GOOD, ballots_used=415)
    report = check_cross_race(GOOD, mayor)
    [failure] = report.failures
    assert failure.code is CheckCode.CROSS_RACE_MISMATCH
    assert failure.observed == 3
    assert check_cross_race(GOOD, mayor, CheckConfig(cross_race_tolerance=3)).failures == ()
    assert check_cross_race(GOOD, StationForm()).skipped[0].code is CheckCode.CROSS_RACE_MISMATCH


@pytest.mark.parametrize(
    "kwargs",
    [{"registered": 1.5}, {"valid": "10"}, {"votes": {"A": 1.0}}, {"signed": "yes"}, {"invalid": True}],
)
def test_form_values_must_be_integers(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidInputError) as err:
        StationForm(**kwargs)  # type: ignore[arg-type]
    assert err.value.code is RulesErrorCode.INVALID_FORM_VALUE


def test_config_validation() -> None:
    with pytest.raises(InvalidInputError):
        CheckConfig(dominant_share=0.95)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        CheckConfig(required_fields=("nonsense",))
    with pytest.raises(InvalidInputError):
        CheckConfig(max_preferences=-1)
    assert CheckConfig(dominant_share="9/10").dominant_share == Fraction(9, 10)  # type: ignore[arg-type]


def test_pct_is_exact() -> None:
    assert pct(Fraction(2, 3)) == "66.67%"
    assert pct(Fraction(1, 8)) == "12.50%"
    assert pct(Fraction(1)) == "100.00%"


counts = st.one_of(st.none(), st.integers(-2, 600))


@settings(max_examples=300, deadline=None)
@given(
    st.builds(
        StationForm,
        registered=counts,
        signatures=counts,
        ballots_received=counts,
        ballots_used=counts,
        ballots_unused=counts,
        ballots_spoiled=counts,
        conditional=counts,
        valid=counts,
        invalid=counts,
        blank=counts,
        votes=st.one_of(st.none(), st.dictionaries(st.sampled_from("ABC"), st.integers(0, 300))),
        signed=st.one_of(st.none(), st.booleans()),
    )
)
def test_every_check_is_accounted_for(form: StationForm) -> None:
    report = check_form(form)
    failed = {f.code for f in report.failures}
    skipped = {s.code for s in report.skipped}
    passed = set(report.passed)
    # Each check ends exactly one way; nothing is silently dropped.
    assert failed | skipped | passed == set(CheckCode) - {
        CheckCode.DOUBLE_ENTRY_MISMATCH,
        CheckCode.CROSS_RACE_MISMATCH,
    }
    assert not (skipped & passed)
    assert not (failed & passed)
    assert not (failed & skipped)
    for s in report.skipped:
        if s.reason is SkipReason.MISSING_INPUT:
            assert all(getattr(form, name) is None for name in s.missing if name != "choices")


shares = st.fractions(min_value=0, max_value=1, max_denominator=1000)


@settings(max_examples=400, deadline=None)
@given(
    registered=st.integers(0, 2000),
    cast=st.integers(0, 2000),
    invalid=st.integers(0, 2000),
    votes=st.lists(st.integers(0, 1000), min_size=1, max_size=4),
    turnout=shares,
    invalid_share=shares,
    dominant=shares,
    allowance=shares,
    extra=st.integers(0, 20),
    near=st.one_of(st.none(), st.integers(-2, 2)),
)
def test_share_thresholds_agree_with_exact_fractions(
    registered: int,
    cast: int,
    invalid: int,
    votes: list[int],
    turnout: Fraction,
    invalid_share: Fraction,
    dominant: Fraction,
    allowance: Fraction,
    extra: int,
    near: int | None,
) -> None:
    """The checks compare shares in integers; the oracle here is the rule written with Fractions."""
    if near is not None:  # ballots cast at the registered voters' limit, give or take
        cast = max(0, math.floor(registered + extra + allowance * registered) + near)
    config = CheckConfig(
        high_turnout_share=turnout,
        invalid_share=invalid_share,
        dominant_share=dominant,
        registered_allowance_share=allowance,
        registered_allowance_votes=extra,
        required_fields=(),
    )
    choices = {f"C{i}": n for i, n in enumerate(votes)}
    valid = sum(votes)
    form = StationForm(registered=registered, ballots_used=cast, invalid=invalid, valid=valid, votes=choices)
    report = check_form(form, config)
    found = {(f.code, f.subject) for f in report.failures}
    expected = set()
    if registered > 0 and Fraction(cast, registered) >= turnout:
        expected.add((CheckCode.HIGH_TURNOUT, None))
    if cast > 0 and Fraction(invalid, cast) > invalid_share:
        expected.add((CheckCode.HIGH_INVALID_SHARE, None))
    if valid > 0:
        expected |= {(CheckCode.DOMINANT_CHOICE, c) for c, n in choices.items() if Fraction(n, valid) >= dominant}
    if cast > math.floor(registered + extra + allowance * registered):
        expected.add((CheckCode.TURNOUT_EXCEEDS_REGISTERED, None))
    watched = {CheckCode.HIGH_TURNOUT, CheckCode.HIGH_INVALID_SHARE, CheckCode.DOMINANT_CHOICE}
    watched.add(CheckCode.TURNOUT_EXCEEDS_REGISTERED)
    assert {x for x in found if x[0] in watched} == expected
    for f in report.failures:
        if f.code in {CheckCode.HIGH_TURNOUT, CheckCode.HIGH_INVALID_SHARE, CheckCode.DOMINANT_CHOICE}:
            assert isinstance(f.observed, Fraction) and f.observed >= 0
