"""Shared value handling: vote counts and shares, validated once, exactly."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from fractions import Fraction

from tallyroom.rules.errors import InvalidInputError, RulesErrorCode

#: A share (threshold, quota, ...) as given by configuration. Floats are refused: a share such as
#: 0.05 has no exact binary value, and the law's thresholds must compare exactly.
ShareLike = Fraction | int | Decimal | str

_ZERO = Fraction(0)
_ONE = Fraction(1)


def as_share(value: ShareLike, name: str, *, upper: Fraction = Fraction(1)) -> Fraction:
    """Return ``value`` as an exact :class:`Fraction` in ``[0, upper]``.

    Accepts ``Fraction``, ``int``, ``Decimal`` and strings such as ``"5/100"`` or ``"0.05"``.
    """
    if type(value) is int and value in (0, 1):
        return _ZERO if value == 0 else _ONE
    if isinstance(value, float):
        raise InvalidInputError(
            RulesErrorCode.FLOAT_NOT_ALLOWED,
            f"{name} must be exact (Fraction, int, Decimal or str), not float {value!r}",
            {"field": name},
        )
    if isinstance(value, bool) or not isinstance(value, Fraction | int | Decimal | str):
        raise InvalidInputError(RulesErrorCode.INVALID_SHARE, f"{name} has unsupported type {type(value).__name__}")
    try:
        share = Fraction(value)
    except (ValueError, ZeroDivisionError) as exc:
        raise InvalidInputError(
            RulesErrorCode.INVALID_SHARE, f"{name} is not a number: {value!r}", {"field": name}
        ) from exc
    if share < 0 or share > upper:
        raise InvalidInputError(
            RulesErrorCode.INVALID_SHARE,
            f"{name} must lie between 0 and {upper}, got {share}",
            {"field": name, "value": str(share)},
        )
    return share


def is_count(value: object) -> bool:
    """True for a non-negative ``int`` (``bool`` is refused: ``True`` is not a vote count)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def check_count(value: object, name: str) -> int:
    """Return ``value`` if it is a non-negative integer count, else raise."""
    if isinstance(value, float):
        raise InvalidInputError(RulesErrorCode.FLOAT_NOT_ALLOWED, f"{name} must be an integer, not float {value!r}")
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidInputError(
            RulesErrorCode.INVALID_VOTES,
            f"{name} must be a non-negative integer, got {value!r}",
            {"field": name},
        )
    return value


def check_vote_map(votes: Mapping[str, int], what: str = "votes") -> None:
    """Validate a mapping of choice code to vote count (codes are non-empty strings)."""
    if not isinstance(votes, Mapping):
        raise InvalidInputError(RulesErrorCode.INVALID_VOTES, f"{what} must be a mapping")
    # Fast path for the common, valid case; the loop below names the offending entry.
    values = votes.values()
    if (
        set(map(type, votes)) <= {str}
        and "" not in votes
        and set(map(type, values)) <= {int}
        and (not values or min(values) >= 0)
    ):
        return
    for code, count in votes.items():
        if not isinstance(code, str) or not code:
            raise InvalidInputError(RulesErrorCode.INVALID_VOTES, f"{what}: codes must be non-empty strings: {code!r}")
        if not is_count(count):
            check_count(count, f"{what}[{code!r}]")
