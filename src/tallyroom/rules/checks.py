"""Plausibility and reconciliation checks on one polling station's result form.

Each check is a pure function of a :class:`StationForm` and a :class:`CheckConfig`. A check
whose inputs are missing (``None``) is *skipped and reported as skipped*, never counted as
passed. Failures are structured (:class:`CheckFailure`): a stable code, a message, the fields
involved, the observed value and the limit.

Sources for the checks and their defaults (see docs/rules.md for the full table):

* kosovo-rules.md §3.4 [B] (reconstructed from LGE Art. 106.4 and CEC recount decisions [C]):
  ballot reconciliation, ballots vs signatures, valid + invalid = ballots in the box, entity
  votes = valid, candidate votes within entity votes, turnout <= 100 %, mayor vs assembly
  ballots, form complete and signed;
* kosovo-rules.md §4 [B] suspicious-pattern flags (turnout >= 90 %, one entity dominant,
  invalid ballots >= 10 %), labelled as assumptions;
* UNDP Tally-Ho ``tally_ho/libs/verify/quarantine_checks.py``: over-voting against registrants
  with a tolerance, reconciliation of candidate votes + invalid with ballots in the box, voter
  cards vs ballots, invalid and blank ballot percentages.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum
from fractions import Fraction
from types import MappingProxyType

from tallyroom.rules.common import ShareLike, as_share, check_count
from tallyroom.rules.errors import InvalidInputError, RulesErrorCode


class CheckCode(StrEnum):
    NEGATIVE_COUNT = "negative_count"
    BALLOT_RECONCILIATION = "ballot_reconciliation"
    BALLOTS_USED_MISMATCH = "ballots_used_mismatch"
    BLANK_EXCEEDS_INVALID = "blank_exceeds_invalid"
    VOTES_NOT_EQUAL_VALID = "votes_not_equal_valid"
    UNKNOWN_CHOICE = "unknown_choice"
    PREFERENCE_EXCEEDS_ENTITY = "preference_exceeds_entity"
    PREFERENCES_EXCEED_LIMIT = "preferences_exceed_limit"
    TURNOUT_EXCEEDS_REGISTERED = "turnout_exceeds_registered"
    SIGNATURES_EXCEED_REGISTERED = "signatures_exceed_registered"
    BALLOTS_EXCEED_SIGNATURES = "ballots_exceed_signatures"
    HIGH_TURNOUT = "high_turnout"
    DOMINANT_CHOICE = "dominant_choice"
    HIGH_INVALID_SHARE = "high_invalid_share"
    HIGH_BLANK_SHARE = "high_blank_share"
    FORM_NOT_SIGNED = "form_not_signed"
    INCOMPLETE_FORM = "incomplete_form"
    DOUBLE_ENTRY_MISMATCH = "double_entry_mismatch"
    CROSS_RACE_MISMATCH = "cross_race_mismatch"


class Severity(StrEnum):
    #: The form is arithmetically or legally impossible: quarantine, recount or correct.
    ERROR = "error"
    #: A statistical pattern worth a human look; the form may well be right.
    WARNING = "warning"


class SkipReason(StrEnum):
    MISSING_INPUT = "missing_input"
    DISABLED = "disabled"


@dataclass(frozen=True, slots=True)
class CheckFailure:
    code: CheckCode
    severity: Severity
    message: str
    fields: tuple[str, ...]
    observed: int | Fraction
    limit: int | Fraction
    #: The entity or candidate concerned, if the check is per choice.
    subject: str | None = None


@dataclass(frozen=True, slots=True)
class SkippedCheck:
    code: CheckCode
    reason: SkipReason
    missing: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CheckReport:
    failures: tuple[CheckFailure, ...]
    skipped: tuple[SkippedCheck, ...]
    passed: tuple[CheckCode, ...]

    @property
    def ok(self) -> bool:
        """No error-severity failure (warnings allowed)."""
        return not any(f.severity is Severity.ERROR for f in self.failures)

    @property
    def clean(self) -> bool:
        """No failure at all and nothing skipped."""
        return not self.failures and not self.skipped

    def codes(self) -> frozenset[CheckCode]:
        return frozenset(f.code for f in self.failures)


_COUNT_FIELDS = (
    "registered",
    "signatures",
    "ballots_received",
    "ballots_used",
    "ballots_unused",
    "ballots_spoiled",
    "conditional",
    "valid",
    "invalid",
    "blank",
)


@dataclass(frozen=True, slots=True)
class StationForm:
    """One race's result form of one polling station. ``None`` means "not known"."""

    registered: int | None = None  # voters on the station's list
    signatures: int | None = None  # signatures on the voter list (voters who voted)
    ballots_received: int | None = None
    ballots_used: int | None = None  # ballots found in the ballot box
    ballots_unused: int | None = None
    ballots_spoiled: int | None = None  # spoiled and replaced
    conditional: int | None = None  # conditional envelopes (dual station; counted at the CRC)
    valid: int | None = None
    invalid: int | None = None  # every invalid ballot, blank ones included
    blank: int | None = None  # optional: the blank ballots among the invalid ones
    votes: Mapping[str, int] | None = None  # choice (entity or candidate) -> votes
    preferences: Mapping[str, Mapping[str, int]] | None = None  # entity -> candidate -> votes
    signed: bool | None = None  # signed by the polling station committee

    def __post_init__(self) -> None:
        for name in _COUNT_FIELDS:
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                raise InvalidInputError(
                    RulesErrorCode.INVALID_FORM_VALUE,
                    f"{name} must be an integer or None, got {value!r}",
                    {"field": name},
                )
        if self.votes is not None:
            object.__setattr__(self, "votes", MappingProxyType(_int_map(self.votes, "votes")))
        if self.preferences is not None:
            prefs = {str(e): MappingProxyType(_int_map(c, f"preferences[{e!r}]")) for e, c in self.preferences.items()}
            object.__setattr__(self, "preferences", MappingProxyType(prefs))
        if self.signed is not None and not isinstance(self.signed, bool):
            raise InvalidInputError(RulesErrorCode.INVALID_FORM_VALUE, "signed must be True, False or None")

    @property
    def ballots_cast(self) -> int | None:
        """Ballots in the box; derived as valid + invalid when the box count is missing."""
        if self.ballots_used is not None:
            return self.ballots_used
        if self.valid is not None and self.invalid is not None:
            return self.valid + self.invalid
        return None


def _int_map(values: Mapping[str, int], name: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for key, value in values.items():
        if not isinstance(key, str) or not isinstance(value, int) or isinstance(value, bool):
            raise InvalidInputError(
                RulesErrorCode.INVALID_FORM_VALUE,
                f"{name} must map text codes to integers, got {key!r}: {value!r}",
            )
        out[key] = value
    return out


@dataclass(frozen=True, slots=True)
class CheckConfig:
    """Every threshold of the form checks. ``None`` disables a statistical check."""

    #: |received - (used + unused + spoiled [+ conditional])| allowed.
    reconciliation_tolerance: int = 0
    #: Count conditional envelopes as used ballots in the reconciliation (stations whose
    #: conditional ballots come from the same stock).
    conditional_in_reconciliation: bool = False
    #: |used - (valid + invalid)| allowed.
    used_tolerance: int = 0
    #: |sum of votes - valid| allowed.
    votes_tolerance: int = 0
    #: Preference marks a ballot may carry (LGE 110.4: one, for municipal assemblies [C]/[B]).
    max_preferences: int = 1
    #: Ballots cast may exceed the registered voters by this many (voters added on the day)...
    registered_allowance_votes: int = 0
    #: ...plus this share of the registered voters (Tally-Ho's "percentage" tolerance).
    registered_allowance_share: Fraction = Fraction(0)
    #: Ballots in the box may exceed the signatures on the voter list by this many.
    signatures_tolerance: int = 0
    #: Warning when ballots cast / registered is at or above this share (§4 [B]: 90 %).
    high_turnout_share: Fraction | None = Fraction(9, 10)
    #: Warning when one choice has at least this share of the valid votes (95 %).
    dominant_share: Fraction | None = Fraction(95, 100)
    #: ...but only where there are at least this many valid votes.
    dominant_min_valid: int = 0
    #: Warning when invalid ballots are above this share of ballots cast (§4 [B]: 10 %).
    invalid_share: Fraction | None = Fraction(10, 100)
    #: Warning when blank ballots are above this share of ballots cast (Tally-Ho trigger,
    #: 20 %, inactive by default there and here).
    blank_share: Fraction | None = None
    #: Report an unsigned form (a known CEC recount reason [C]).
    require_signature: bool = True
    #: Fields a complete form must have.
    required_fields: tuple[str, ...] = (
        "registered",
        "ballots_received",
        "ballots_used",
        "ballots_unused",
        "ballots_spoiled",
        "valid",
        "invalid",
        "votes",
    )
    #: |ballots cast in race A - ballots cast in race B| allowed at one station.
    cross_race_tolerance: int = 0
    #: Severity given to the statistical checks.
    statistical_severity: Severity = field(default=Severity.WARNING)

    def __post_init__(self) -> None:
        for name in (
            "reconciliation_tolerance",
            "used_tolerance",
            "votes_tolerance",
            "max_preferences",
            "registered_allowance_votes",
            "signatures_tolerance",
            "dominant_min_valid",
            "cross_race_tolerance",
        ):
            check_count(getattr(self, name), f"CheckConfig.{name}")
        object.__setattr__(
            self,
            "registered_allowance_share",
            as_share(self.registered_allowance_share, "registered_allowance_share"),
        )
        for name in ("high_turnout_share", "dominant_share", "invalid_share", "blank_share"):
            value: ShareLike | None = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, as_share(value, f"CheckConfig.{name}"))
        known = {f.name for f in fields(StationForm)}
        unknown = [name for name in self.required_fields if name not in known]
        if unknown:
            raise InvalidInputError(RulesErrorCode.INVALID_CONFIG, f"unknown required fields: {', '.join(unknown)}")


#: Defaults: kosovo-rules.md §3.4 and §4 (assumptions [B]), documented in docs/rules.md.
KOSOVO_CHECKS = CheckConfig()


def pct(share: Fraction) -> str:
    """A share as a percentage with two decimals, rounded half up, without floats."""
    hundredths = math.floor(share * 10000 + Fraction(1, 2))
    return f"{hundredths // 100}.{hundredths % 100:02d}%"


class _Run:
    """Collects the outcome of each check."""

    def __init__(self) -> None:
        self.failures: list[CheckFailure] = []
        self.skipped: list[SkippedCheck] = []
        self.passed: list[CheckCode] = []

    def skip(self, code: CheckCode, *missing: str) -> None:
        self.skipped.append(SkippedCheck(code, SkipReason.MISSING_INPUT, missing))

    def disabled(self, code: CheckCode) -> None:
        self.skipped.append(SkippedCheck(code, SkipReason.DISABLED))

    def outcome(self, code: CheckCode, failures: list[CheckFailure]) -> None:
        if failures:
            self.failures.extend(failures)
        else:
            self.passed.append(code)

    def report(self) -> CheckReport:
        return CheckReport(tuple(self.failures), tuple(self.skipped), tuple(self.passed))


def _missing(form: StationForm, *names: str) -> tuple[str, ...]:
    missing = [n for n in names if getattr(form, n) is None]
    return tuple(missing) if missing else ()


def _against(part: int, whole: int, limit: Fraction) -> int:
    """The sign of part/whole - limit (whole > 0), in integers: a Fraction per comparison was a
    tenth of the checks' time on a national count."""
    difference = part * limit.denominator - limit.numerator * whole
    return (difference > 0) - (difference < 0)


def _allowed(registered: int, config: CheckConfig) -> int:
    """floor(registered + allowance votes + allowance share x registered), in integers."""
    share = config.registered_allowance_share
    return registered + config.registered_allowance_votes + share.numerator * registered // share.denominator


def _fail(
    code: CheckCode,
    message: str,
    fields_: tuple[str, ...],
    observed: int | Fraction,
    limit: int | Fraction,
    subject: str | None = None,
    severity: Severity = Severity.ERROR,
) -> CheckFailure:
    return CheckFailure(code, severity, message, fields_, observed, limit, subject)


_Check = Callable[[StationForm, CheckConfig, _Run], None]


def _negative(form: StationForm, _config: CheckConfig, run: _Run) -> None:
    failures = [
        _fail(CheckCode.NEGATIVE_COUNT, f"{name} is negative ({value})", (name,), value, 0)
        for name in _COUNT_FIELDS
        if (value := getattr(form, name)) is not None and value < 0
    ]
    for choice, value in (form.votes or {}).items():
        if value < 0:
            message = f"votes for {choice} are negative ({value})"
            failures.append(_fail(CheckCode.NEGATIVE_COUNT, message, ("votes",), value, 0, choice))
    for entity, prefs in (form.preferences or {}).items():
        for candidate, value in prefs.items():
            if value < 0:
                message = f"preference votes for {entity}/{candidate} are negative ({value})"
                subject = f"{entity}/{candidate}"
                failures.append(_fail(CheckCode.NEGATIVE_COUNT, message, ("preferences",), value, 0, subject))
    run.outcome(CheckCode.NEGATIVE_COUNT, failures)


def _reconciliation(form: StationForm, config: CheckConfig, run: _Run) -> None:
    code = CheckCode.BALLOT_RECONCILIATION
    names = ["ballots_received", "ballots_used", "ballots_unused", "ballots_spoiled"]
    if config.conditional_in_reconciliation:
        names.append("conditional")
    missing = _missing(form, *names)
    if missing:
        run.skip(code, *missing)
        return
    received = form.ballots_received or 0
    accounted = sum(getattr(form, n) or 0 for n in names[1:])
    failures = []
    if abs(received - accounted) > config.reconciliation_tolerance:
        failures.append(
            _fail(
                code,
                f"ballots received ({received}) do not match {' + '.join(names[1:])} ({accounted})"
                f"; tolerance {config.reconciliation_tolerance}",
                tuple(names),
                accounted,
                received,
            )
        )
    run.outcome(code, failures)


def _used(form: StationForm, config: CheckConfig, run: _Run) -> None:
    code = CheckCode.BALLOTS_USED_MISMATCH
    missing = _missing(form, "ballots_used", "valid", "invalid")
    if missing:
        run.skip(code, *missing)
        return
    used, valid, invalid = form.ballots_used or 0, form.valid or 0, form.invalid or 0
    failures = []
    if abs(used - (valid + invalid)) > config.used_tolerance:
        failures.append(
            _fail(
                code,
                f"ballots in the box ({used}) differ from valid + invalid ({valid + invalid})"
                f"; tolerance {config.used_tolerance}",
                ("ballots_used", "valid", "invalid"),
                valid + invalid,
                used,
            )
        )
    run.outcome(code, failures)


def _blank(form: StationForm, _config: CheckConfig, run: _Run) -> None:
    code = CheckCode.BLANK_EXCEEDS_INVALID
    missing = _missing(form, "blank", "invalid")
    if missing:
        run.skip(code, *missing)
        return
    blank, invalid = form.blank or 0, form.invalid or 0
    failures = []
    if blank > invalid:
        failures.append(
            _fail(
                code,
                f"blank ballots ({blank}) exceed invalid ballots ({invalid}), which include them",
                ("blank", "invalid"),
                blank,
                invalid,
            )
        )
    run.outcome(code, failures)


def _votes_sum(form: StationForm, config: CheckConfig, run: _Run) -> None:
    code = CheckCode.VOTES_NOT_EQUAL_VALID
    missing = _missing(form, "votes", "valid")
    if missing:
        run.skip(code, *missing)
        return
    total = sum((form.votes or {}).values())
    valid = form.valid or 0
    failures = []
    if abs(total - valid) > config.votes_tolerance:
        failures.append(
            _fail(
                code,
                f"votes add up to {total}, valid ballots are {valid}; tolerance {config.votes_tolerance}",
                ("votes", "valid"),
                total,
                valid,
            )
        )
    run.outcome(code, failures)


def _preferences(form: StationForm, config: CheckConfig, run: _Run) -> None:
    missing = _missing(form, "preferences", "votes")
    if missing:
        run.skip(CheckCode.PREFERENCE_EXCEEDS_ENTITY, *missing)
        run.skip(CheckCode.PREFERENCES_EXCEED_LIMIT, *missing)
        return
    votes = form.votes or {}
    each: list[CheckFailure] = []
    limit_failures: list[CheckFailure] = []
    for entity, prefs in (form.preferences or {}).items():
        entity_votes = votes.get(entity, 0)
        for candidate, count in prefs.items():
            if count > entity_votes:
                each.append(
                    _fail(
                        CheckCode.PREFERENCE_EXCEEDS_ENTITY,
                        f"candidate {candidate} has {count} preference votes, more than the "
                        f"{entity_votes} votes of entity {entity}",
                        ("preferences", "votes"),
                        count,
                        entity_votes,
                        f"{entity}/{candidate}",
                    )
                )
        total = sum(prefs.values())
        ceiling = entity_votes * config.max_preferences
        if total > ceiling:
            limit_failures.append(
                _fail(
                    CheckCode.PREFERENCES_EXCEED_LIMIT,
                    f"entity {entity}: {total} preference votes exceed {entity_votes} entity votes "
                    f"x {config.max_preferences} preference(s) per ballot",
                    ("preferences", "votes"),
                    total,
                    ceiling,
                    entity,
                )
            )
    run.outcome(CheckCode.PREFERENCE_EXCEEDS_ENTITY, each)
    run.outcome(CheckCode.PREFERENCES_EXCEED_LIMIT, limit_failures)


def _turnout(form: StationForm, config: CheckConfig, run: _Run) -> None:
    code = CheckCode.TURNOUT_EXCEEDS_REGISTERED
    cast = form.ballots_cast
    if form.registered is None or cast is None:
        run.skip(code, *_missing(form, "registered", "ballots_used"))
        return
    registered = form.registered
    limit = _allowed(registered, config)
    failures = []
    if cast > limit:
        failures.append(
            _fail(
                code,
                f"{cast} ballots cast exceed {registered} registered voters (allowed up to {limit})",
                ("ballots_used", "registered"),
                cast,
                limit,
            )
        )
    run.outcome(code, failures)


def _signatures(form: StationForm, config: CheckConfig, run: _Run) -> None:
    code = CheckCode.SIGNATURES_EXCEED_REGISTERED
    missing = _missing(form, "signatures", "registered")
    if missing:
        run.skip(code, *missing)
    else:
        signatures, registered = form.signatures or 0, form.registered or 0
        limit = _allowed(registered, config)
        failures = []
        if signatures > limit:
            failures.append(
                _fail(
                    code,
                    f"{signatures} signatures exceed {registered} registered voters (allowed up to {limit})",
                    ("signatures", "registered"),
                    signatures,
                    limit,
                )
            )
        run.outcome(code, failures)

    code = CheckCode.BALLOTS_EXCEED_SIGNATURES
    cast = form.ballots_cast
    if form.signatures is None or cast is None:
        run.skip(code, *_missing(form, "signatures", "ballots_used"))
        return
    limit = form.signatures + config.signatures_tolerance
    failures = []
    if cast > limit:
        failures.append(
            _fail(
                code,
                f"{cast} ballots in the box but only {form.signatures} signatures on the "
                f"voter list (tolerance {config.signatures_tolerance})",
                ("ballots_used", "signatures"),
                cast,
                limit,
            )
        )
    run.outcome(code, failures)


def _share_check(
    run: _Run,
    code: CheckCode,
    limit: Fraction | None,
    part: int | None,
    whole: int | None,
    names: tuple[str, str],
    what: str,
    severity: Severity,
    *,
    at_or_above: bool,
) -> None:
    if limit is None:
        run.disabled(code)
        return
    if part is None or whole is None:
        run.skip(code, *(n for n, v in zip(names, (part, whole), strict=True) if v is None))
        return
    failures = []
    if whole > 0:
        above = _against(part, whole, limit)
        if above > 0 or (at_or_above and above == 0):
            share = Fraction(part, whole)
            failures.append(
                _fail(
                    code,
                    f"{what} {pct(share)} ({part} of {whole}) is "
                    f"{'at or above' if at_or_above else 'above'} {pct(limit)}",
                    names,
                    share,
                    limit,
                    severity=severity,
                )
            )
    run.outcome(code, failures)


def _statistical(form: StationForm, config: CheckConfig, run: _Run) -> None:
    sev = config.statistical_severity
    cast = form.ballots_cast
    _share_check(
        run,
        CheckCode.HIGH_TURNOUT,
        config.high_turnout_share,
        cast,
        form.registered,
        ("ballots_used", "registered"),
        "turnout",
        sev,
        at_or_above=True,
    )
    _share_check(
        run,
        CheckCode.HIGH_INVALID_SHARE,
        config.invalid_share,
        form.invalid,
        cast,
        ("invalid", "ballots_used"),
        "invalid ballots",
        sev,
        at_or_above=False,
    )
    _share_check(
        run,
        CheckCode.HIGH_BLANK_SHARE,
        config.blank_share,
        form.blank,
        cast,
        ("blank", "ballots_used"),
        "blank ballots",
        sev,
        at_or_above=False,
    )

    code = CheckCode.DOMINANT_CHOICE
    if config.dominant_share is None:
        run.disabled(code)
        return
    missing = _missing(form, "votes", "valid")
    if missing:
        run.skip(code, *missing)
        return
    valid = form.valid or 0
    failures = []
    if valid > 0 and valid >= config.dominant_min_valid:
        for choice, count in (form.votes or {}).items():
            if _against(count, valid, config.dominant_share) >= 0:
                share = Fraction(count, valid)
                failures.append(
                    _fail(
                        code,
                        f"{choice} has {pct(share)} of the valid votes ({count} of {valid}), "
                        f"at or above {pct(config.dominant_share)}",
                        ("votes", "valid"),
                        share,
                        config.dominant_share,
                        choice,
                        sev,
                    )
                )
    run.outcome(code, failures)


def _signed(form: StationForm, config: CheckConfig, run: _Run) -> None:
    code = CheckCode.FORM_NOT_SIGNED
    if not config.require_signature:
        run.disabled(code)
        return
    if form.signed is None:
        run.skip(code, "signed")
        return
    failures = []
    if not form.signed:
        failures.append(_fail(code, "the form is not signed by the polling station committee", ("signed",), 0, 1))
    run.outcome(code, failures)


def _complete(form: StationForm, config: CheckConfig, run: _Run) -> None:
    missing = _missing(form, *config.required_fields)
    failures = []
    if missing:
        failures.append(
            _fail(
                CheckCode.INCOMPLETE_FORM,
                f"missing: {', '.join(missing)}",
                missing,
                len(config.required_fields) - len(missing),
                len(config.required_fields),
            )
        )
    run.outcome(CheckCode.INCOMPLETE_FORM, failures)


_CHECKS: tuple[_Check, ...] = (
    _complete,
    _negative,
    _reconciliation,
    _used,
    _blank,
    _votes_sum,
    _preferences,
    _turnout,
    _signatures,
    _statistical,
    _signed,
)


def check_form(
    form: StationForm,
    config: CheckConfig = KOSOVO_CHECKS,
    *,
    choices: Collection[str] | None = None,
    candidates: Mapping[str, Collection[str]] | None = None,
) -> CheckReport:
    """Run every check on one form.

    ``choices`` (the codes on the ballot) and ``candidates`` (entity -> candidate ids) enable
    the check that the form names only choices on the ballot; without them it is skipped.
    """
    run = _Run()
    for check in _CHECKS:
        check(form, config, run)
    _unknown_choices(form, choices, candidates, run)
    return run.report()


def _unknown_choices(
    form: StationForm,
    choices: Collection[str] | None,
    candidates: Mapping[str, Collection[str]] | None,
    run: _Run,
) -> None:
    code = CheckCode.UNKNOWN_CHOICE
    if choices is None and candidates is None:
        run.skip(code, "choices")
        return
    failures = []
    if choices is not None:
        for choice in form.votes or {}:
            if choice not in choices:
                failures.append(
                    _fail(code, f"votes for {choice}, which is not on the ballot", ("votes",), 1, 0, choice)
                )
    if candidates is not None:
        for entity, prefs in (form.preferences or {}).items():
            listed = candidates.get(entity, ())
            for cid in prefs:
                if cid not in listed:
                    failures.append(
                        _fail(
                            code,
                            f"preference votes for {cid}, not a candidate of {entity}",
                            ("preferences",),
                            1,
                            0,
                            f"{entity}/{cid}",
                        )
                    )
    run.outcome(code, failures)


def compare_entries(first: StationForm, second: StationForm) -> CheckReport:
    """Double data entry: every field of two independent entries of the same form must agree."""
    failures = []
    for f in fields(StationForm):
        a, b = getattr(first, f.name), getattr(second, f.name)
        if _plain(a) != _plain(b):
            failures.append(
                _fail(
                    CheckCode.DOUBLE_ENTRY_MISMATCH,
                    f"{f.name} differs between the two entries",
                    (f.name,),
                    _size(a),
                    _size(b),
                    f.name,
                )
            )
    run = _Run()
    run.outcome(CheckCode.DOUBLE_ENTRY_MISMATCH, failures)
    return run.report()


def _plain(value: object) -> object:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _size(value: object) -> int:
    """A number standing for a field's value in a mismatch report."""
    if isinstance(value, bool) or value is None:
        return int(bool(value))
    if isinstance(value, int):
        return value
    if isinstance(value, Mapping):
        return sum(_size(v) for v in value.values())
    return 0


def check_cross_race(first: StationForm, second: StationForm, config: CheckConfig = KOSOVO_CHECKS) -> CheckReport:
    """The same voters receive the mayor and assembly ballots: ballots cast should agree."""
    run = _Run()
    code = CheckCode.CROSS_RACE_MISMATCH
    a, b = first.ballots_cast, second.ballots_cast
    if a is None or b is None:
        run.skip(code, "ballots_used")
        return run.report()
    failures = []
    if abs(a - b) > config.cross_race_tolerance:
        failures.append(
            _fail(
                code,
                f"ballots cast differ between the two races ({a} vs {b}); tolerance {config.cross_race_tolerance}",
                ("ballots_used",),
                abs(a - b),
                config.cross_race_tolerance,
                severity=config.statistical_severity,
            )
        )
    run.outcome(code, failures)
    return run.report()
