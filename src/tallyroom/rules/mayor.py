"""Mayor: absolute majority in the first round, otherwise a runoff of the two leaders.

Law on Local Elections, Art. 9 (kosovo-rules.md §2) [C]:

* 9.5 "A candidate is elected Mayor ... if he or she receives more than 50% plus one vote of the
  total valid votes cast". The wording is ambiguous; the default reading is a strict majority,
  ``votes >= floor(valid / 2) + 1`` [B], with the literal readings available in
  :class:`MajorityReading` for legal review.
* 9.6 otherwise "a second election ... between the two candidates who received the most valid
  votes".
* 9.7 "The candidate who wins the majority of votes in the second round is elected".

What the law does not say is decided by :class:`MayorConfig`, with defaults from
kosovo-rules.md §2 [B] and the 2017 practice note [C] that with two candidates no runoff is
possible. Ties are reported, never decided here; the caller resolves a first-round tie with
:func:`resolve_first_round_tie` (lots or an explicit decision) and a runoff tie is left to the
commission (default: repeat the vote).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Literal

from tallyroom.rules.common import check_count, check_vote_map
from tallyroom.rules.errors import (
    InvalidInputError,
    RulesErrorCode,
    TieResolutionError,
)
from tallyroom.rules.ties import DrawRecord, ExplicitOrder, SeededDraw, choose_breaker


class MajorityReading(StrEnum):
    """Readings of "more than 50% plus one vote" (LLE 9.5)."""

    #: votes >= floor(valid/2) + 1, i.e. more than half (default [B]).
    FLOOR_HALF_PLUS_ONE = "floor-half-plus-one"
    #: votes >= valid/2 + 1, taken literally ("50% plus one vote").
    HALF_PLUS_ONE = "half-plus-one"
    #: votes > valid/2 + 1 ("more than 50% plus one vote").
    MORE_THAN_HALF_PLUS_ONE = "more-than-half-plus-one"


def majority_threshold(valid: int, reading: MajorityReading = MajorityReading.FLOOR_HALF_PLUS_ONE) -> int:
    """The smallest number of votes that elects in the first round."""
    check_count(valid, "valid")
    if reading is MajorityReading.FLOOR_HALF_PLUS_ONE:
        return valid // 2 + 1
    if reading is MajorityReading.HALF_PLUS_ONE:
        return (valid + 1) // 2 + 1  # ceil(valid/2) + 1
    return valid // 2 + 2  # the least integer above valid/2 + 1


class TwoCandidateRule(StrEnum):
    """A race with exactly two candidates."""

    #: The candidate with more votes is elected; no runoff is possible (2017 practice [C]).
    PLURALITY = "plurality"
    #: Apply the majority test; without a majority the same two go to a runoff.
    MAJORITY = "majority"


class FinalistTie(StrEnum):
    """A tie for a runoff place (e.g. for second place)."""

    #: Report it; the caller draws lots or records a decision (default).
    REPORT = "report"
    #: Every tied candidate goes to the runoff (kosovo-rules.md §2 option [B]).
    ALL_ADVANCE = "all-advance"


class WithdrawalRule(StrEnum):
    """A finalist withdraws, dies or is decertified before the runoff (not in the law [B])."""

    #: The next-placed candidate of the first round moves up (default).
    NEXT_PLACED_MOVES_UP = "next-placed-moves-up"
    #: Nobody moves up; the remaining finalist(s) stand.
    NO_REPLACEMENT = "no-replacement"


@dataclass(frozen=True, slots=True)
class MayorConfig:
    majority: MajorityReading = MajorityReading.FLOOR_HALF_PLUS_ONE
    two_candidates: TwoCandidateRule = TwoCandidateRule.PLURALITY
    finalist_tie: FinalistTie = FinalistTie.REPORT
    withdrawal: WithdrawalRule = WithdrawalRule.NEXT_PLACED_MOVES_UP

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "majority", MajorityReading(self.majority))
            object.__setattr__(self, "two_candidates", TwoCandidateRule(self.two_candidates))
            object.__setattr__(self, "finalist_tie", FinalistTie(self.finalist_tie))
            object.__setattr__(self, "withdrawal", WithdrawalRule(self.withdrawal))
        except ValueError as exc:
            raise InvalidInputError(RulesErrorCode.INVALID_CONFIG, str(exc)) from None


KOSOVO_MAYOR = MayorConfig()


class FirstRoundStatus(StrEnum):
    ELECTED = "elected"
    RUNOFF = "runoff"
    #: A tie decides who is elected or who reaches the runoff; it must be resolved.
    TIE = "tie"
    NO_VALID_VOTES = "no-valid-votes"
    #: After withdrawals only one finalist remains; the law is silent (commission decision).
    SINGLE_FINALIST = "single-finalist"
    #: After withdrawals nobody remains.
    NO_FINALISTS = "no-finalists"


@dataclass(frozen=True, slots=True)
class CandidateTie:
    """Candidates with equal votes competing for fewer places than they are."""

    candidates: tuple[str, ...]
    places: int
    votes: int
    #: "election": the tie decides who is elected; "runoff": who reaches the runoff.
    decides: Literal["election", "runoff"]


@dataclass(frozen=True, slots=True)
class FirstRoundResult:
    status: FirstRoundStatus
    votes: Mapping[str, int]
    valid_votes: int
    majority_threshold: int
    #: Candidates by votes, descending (equal votes keep input order: display only, not a rank).
    standings: tuple[str, ...]
    elected: str | None
    #: Runoff finalists; while a tie is open, only the candidates already certain to advance.
    finalists: tuple[str, ...]
    tie: CandidateTie | None
    #: Which rule produced the answer: "majority", "single-candidate", "two-candidate-plurality",
    #: "top-two", "withdrawal", "tie-resolution" (or "no-valid-votes").
    basis: str
    config: MayorConfig
    withdrawn: tuple[str, ...] = ()
    resolution: DrawRecord | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def runoff_needed(self) -> bool:
        return self.status is FirstRoundStatus.RUNOFF or (self.tie is not None and self.tie.decides == "runoff")


def _standings(votes: Mapping[str, int], pool: Sequence[str]) -> list[str]:
    return sorted(pool, key=lambda c: -votes[c])  # stable: equal votes keep input order


def _places(votes: Mapping[str, int], ordered: Sequence[str], places: int) -> tuple[list[str], list[str], int]:
    """Top ``places`` of ``ordered``: (certain, tied contenders, places left to the tie)."""
    if len(ordered) <= places:
        return list(ordered), [], 0
    cutoff = votes[ordered[places - 1]]
    above = [c for c in ordered if votes[c] > cutoff]
    at = [c for c in ordered if votes[c] == cutoff]
    if len(above) + len(at) <= places:
        return above + at, [], 0
    return above, at, places - len(above)


def decide_first_round(votes: Mapping[str, int], *, config: MayorConfig = KOSOVO_MAYOR) -> FirstRoundResult:
    """Decide the first round from each candidate's valid votes."""
    check_vote_map(votes)
    if not votes:
        raise InvalidInputError(RulesErrorCode.NO_CANDIDATES, "a mayoral race needs candidates")
    votes = dict(votes)
    valid = sum(votes.values())
    threshold = majority_threshold(valid, config.majority)
    standings = _standings(votes, list(votes))
    base = FirstRoundResult(
        status=FirstRoundStatus.NO_VALID_VOTES,
        votes=votes,
        valid_votes=valid,
        majority_threshold=threshold,
        standings=tuple(standings),
        elected=None,
        finalists=(),
        tie=None,
        basis="no-valid-votes",
        config=config,
    )
    if valid == 0:
        return base
    leader = standings[0]
    if len(votes) == 1:
        # A sole candidate holds every valid vote; no runoff is possible.
        return replace(base, status=FirstRoundStatus.ELECTED, elected=leader, basis="single-candidate")
    if len(votes) == 2 and config.two_candidates is TwoCandidateRule.PLURALITY:
        other = standings[1]
        if votes[leader] > votes[other]:
            return replace(base, status=FirstRoundStatus.ELECTED, elected=leader, basis="two-candidate-plurality")
        tie = CandidateTie((leader, other), 1, votes[leader], "election")
        return replace(base, status=FirstRoundStatus.TIE, tie=tie, basis="two-candidate-plurality")
    if votes[leader] >= threshold:
        return replace(base, status=FirstRoundStatus.ELECTED, elected=leader, basis="majority")
    return _runoff_places(base, standings, "top-two")


def _runoff_places(base: FirstRoundResult, ordered: Sequence[str], basis: str) -> FirstRoundResult:
    votes = base.votes
    certain, contenders, open_places = _places(votes, ordered, 2)
    if not contenders:
        return replace(base, status=FirstRoundStatus.RUNOFF, finalists=tuple(certain), tie=None, basis=basis)
    if base.config.finalist_tie is FinalistTie.ALL_ADVANCE:
        note = f"{', '.join(contenders)} tie with {votes[contenders[0]]} votes and all advance"
        return replace(
            base,
            status=FirstRoundStatus.RUNOFF,
            finalists=tuple(certain + contenders),
            tie=None,
            basis=basis,
            notes=(*base.notes, note),
        )
    tie = CandidateTie(tuple(contenders), open_places, votes[contenders[0]], "runoff")
    return replace(base, status=FirstRoundStatus.TIE, finalists=tuple(certain), tie=tie, basis=basis)


def resolve_first_round_tie(
    result: FirstRoundResult,
    *,
    draw: SeededDraw | None = None,
    order: ExplicitOrder | Sequence[str] | None = None,
) -> FirstRoundResult:
    """Resolve an open first-round tie by a recorded draw of lots or an explicit decision."""
    tie = result.tie
    if tie is None or result.status is not FirstRoundStatus.TIE:
        raise TieResolutionError(RulesErrorCode.NO_TIE_TO_RESOLVE, "the first round has no open tie")
    record = choose_breaker(draw, order).rank(tie.candidates, tie.places, f"mayor:{tie.decides}")
    if tie.decides == "election":
        return replace(
            result,
            status=FirstRoundStatus.ELECTED,
            elected=record.winners[0],
            resolution=record,
            basis="tie-resolution",
        )
    finalists = tuple(c for c in result.standings if c in result.finalists or c in record.winners)
    return replace(
        result, status=FirstRoundStatus.RUNOFF, finalists=finalists, resolution=record, basis="tie-resolution"
    )


def finalists_after_withdrawal(
    first_round: FirstRoundResult,
    withdrawn: Collection[str],
    *,
    rule: WithdrawalRule | None = None,
) -> FirstRoundResult:
    """Recompute the runoff finalists when candidates withdraw before the runoff.

    Default (:attr:`WithdrawalRule.NEXT_PLACED_MOVES_UP`): the two best-placed remaining
    candidates of the first round are the finalists, with ties reported as in the first round.
    With :attr:`WithdrawalRule.NO_REPLACEMENT` only the original finalists (and open-tie
    contenders) remain in the pool. The first-round votes are unchanged: nobody is elected by a
    withdrawal; if one finalist remains the status is ``SINGLE_FINALIST`` (the law is silent).
    """
    if not first_round.runoff_needed and first_round.status not in (
        FirstRoundStatus.SINGLE_FINALIST,
        FirstRoundStatus.NO_FINALISTS,
    ):
        raise InvalidInputError(
            RulesErrorCode.NOT_A_RUNOFF,
            f"the first round ended {first_round.status}; there is no runoff to re-seat",
        )
    gone = set(withdrawn) | set(first_round.withdrawn)
    unknown = gone - set(first_round.votes)
    if unknown:
        raise InvalidInputError(
            RulesErrorCode.UNKNOWN_CANDIDATE,
            f"not candidates of this race: {', '.join(sorted(unknown))}",
        )
    chosen = rule or first_round.config.withdrawal
    if chosen is WithdrawalRule.NEXT_PLACED_MOVES_UP:
        pool = list(first_round.votes)
    else:
        tied = first_round.tie.candidates if first_round.tie else ()
        pool = [c for c in first_round.votes if c in first_round.finalists or c in tied]
    remaining = _standings(first_round.votes, [c for c in pool if c not in gone])
    base = replace(
        first_round,
        withdrawn=tuple(c for c in first_round.votes if c in gone),
        elected=None,
        finalists=(),
        tie=None,
        resolution=None,
        basis="withdrawal",
        config=replace(first_round.config, withdrawal=chosen),
    )
    if not remaining:
        return replace(base, status=FirstRoundStatus.NO_FINALISTS)
    if len(remaining) == 1:
        return replace(base, status=FirstRoundStatus.SINGLE_FINALIST, finalists=(remaining[0],))
    return _runoff_places(base, remaining, "withdrawal")


class RunoffStatus(StrEnum):
    ELECTED = "elected"
    #: Equal votes at the top: reported, never decided (default remedy [B]: repeat the vote).
    TIE = "tie"
    NO_VALID_VOTES = "no-valid-votes"


@dataclass(frozen=True, slots=True)
class RunoffResult:
    status: RunoffStatus
    votes: Mapping[str, int]
    valid_votes: int
    standings: tuple[str, ...]
    elected: str | None
    tie: CandidateTie | None


def decide_runoff(votes: Mapping[str, int], *, finalists: Collection[str] | None = None) -> RunoffResult:
    """The runoff: the candidate with the most valid votes is elected; a tie is reported.

    With two finalists this is the majority of LLE 9.7. If ``finalists`` is given, the votes
    must name exactly those candidates.
    """
    check_vote_map(votes)
    if not votes:
        raise InvalidInputError(RulesErrorCode.NO_CANDIDATES, "a runoff needs candidates")
    if finalists is not None and set(finalists) != set(votes):
        raise InvalidInputError(
            RulesErrorCode.UNKNOWN_FINALIST,
            "runoff votes must be given for exactly the finalists",
            {"finalists": sorted(finalists), "votes_for": sorted(votes)},
        )
    votes = dict(votes)
    valid = sum(votes.values())
    standings = _standings(votes, list(votes))
    if valid == 0:
        return RunoffResult(RunoffStatus.NO_VALID_VOTES, votes, 0, tuple(standings), None, None)
    top = votes[standings[0]]
    leaders = [c for c in standings if votes[c] == top]
    if len(leaders) > 1:
        tie = CandidateTie(tuple(leaders), 1, top, "election")
        return RunoffResult(RunoffStatus.TIE, votes, valid, tuple(standings), None, tie)
    return RunoffResult(RunoffStatus.ELECTED, votes, valid, tuple(standings), standings[0], None)
