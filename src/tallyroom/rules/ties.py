"""Resolving ties explicitly: drawing lots from a recorded seed, or an explicit order.

The engine never breaks a tie by itself. A result that contains a tie says so; the caller then
applies one of the resolvers here and stores the returned :class:`DrawRecord` in the audit log.

Drawing lots (``SeededDraw``) is reproducible by anyone, with any SHA-256 tool: each contender's
key is the hex SHA-256 digest of the UTF-8 text ``"tallyroom-lots/1\\n" + seed + "\\n" + code``;
contenders are ordered by key (ascending), and the first ``places`` contenders win. The seed
must be fixed publicly *after* the tie is known (for example by dice rolled in a public session)
so that nobody can choose a seed that favours a contender.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from tallyroom.rules.errors import RulesErrorCode, TieResolutionError

LOTS_METHOD = "lots-sha256/1"
EXPLICIT_METHOD = "explicit-order"
_LOTS_PREFIX = "tallyroom-lots/1\n"


@dataclass(frozen=True, slots=True)
class DrawRecord:
    """Everything needed to audit and replay a tie resolution."""

    method: str
    context: str
    contenders: tuple[str, ...]
    places: int
    order: tuple[str, ...]
    winners: tuple[str, ...]
    seed: str | None = None
    keys: tuple[str, ...] = ()
    reference: str = ""

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready form for the audit log."""
        return {
            "method": self.method,
            "context": self.context,
            "contenders": list(self.contenders),
            "places": self.places,
            "order": list(self.order),
            "winners": list(self.winners),
            "seed": self.seed,
            "keys": list(self.keys),
            "reference": self.reference,
        }


class TieBreaker(Protocol):
    """Something that orders tied contenders and records how it did so."""

    def rank(self, contenders: Sequence[str], places: int, context: str) -> DrawRecord:
        """Order ``contenders``; the first ``places`` win."""
        ...


def _check_contenders(contenders: Sequence[str], places: int) -> tuple[str, ...]:
    unique = tuple(dict.fromkeys(contenders))
    if len(unique) != len(contenders) or not unique:
        raise TieResolutionError(RulesErrorCode.INVALID_TIE_ORDER, "contenders must be distinct and non-empty")
    if not 0 < places < len(unique):
        raise TieResolutionError(
            RulesErrorCode.INVALID_TIE_ORDER,
            f"{places} place(s) among {len(unique)} contenders is not a tie",
        )
    return unique


@dataclass(frozen=True, slots=True)
class SeededDraw:
    """Drawing lots from a recorded seed (see the module docstring for the exact algorithm)."""

    seed: str
    reference: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.seed, str) or not self.seed.strip():
            raise TieResolutionError(RulesErrorCode.INVALID_TIE_ORDER, "a draw needs a non-empty text seed")

    @classmethod
    def fresh(cls, reference: str = "") -> SeededDraw:
        """A draw from a new random seed (to be recorded with the result)."""
        return cls(secrets.token_hex(16), reference)

    def key(self, contender: str) -> str:
        """The contender's lot: hex SHA-256 of the prefix, the seed and the code."""
        text = f"{_LOTS_PREFIX}{self.seed}\n{contender}"
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def rank(self, contenders: Sequence[str], places: int, context: str) -> DrawRecord:
        unique = _check_contenders(contenders, places)
        keyed = sorted((self.key(code), code) for code in unique)
        order = tuple(code for _, code in keyed)
        return DrawRecord(
            method=LOTS_METHOD,
            context=context,
            contenders=tuple(sorted(unique)),
            places=places,
            order=order,
            winners=order[:places],
            seed=self.seed,
            keys=tuple(key for key, _ in keyed),
            reference=self.reference,
        )


@dataclass(frozen=True, slots=True)
class ExplicitOrder:
    """An order decided elsewhere (e.g. by a commission decision cited in ``reference``).

    ``order`` may list more codes than are tied (a full priority list); it must list every
    contender exactly once.
    """

    order: tuple[str, ...]
    reference: str = ""
    _positions: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        order = tuple(self.order)
        object.__setattr__(self, "order", order)
        if len(set(order)) != len(order):
            raise TieResolutionError(RulesErrorCode.INVALID_TIE_ORDER, "an explicit order lists a code twice")
        object.__setattr__(self, "_positions", {code: i for i, code in enumerate(order)})

    def rank(self, contenders: Sequence[str], places: int, context: str) -> DrawRecord:
        unique = _check_contenders(contenders, places)
        missing = [code for code in unique if code not in self._positions]
        if missing:
            raise TieResolutionError(
                RulesErrorCode.INVALID_TIE_ORDER,
                f"the explicit order does not place {', '.join(missing)}",
                {"missing": missing},
            )
        order = tuple(sorted(unique, key=self._positions.__getitem__))
        return DrawRecord(
            method=EXPLICIT_METHOD,
            context=context,
            contenders=tuple(sorted(unique)),
            places=places,
            order=order,
            winners=order[:places],
            reference=self.reference,
        )


def choose_breaker(draw: SeededDraw | None, order: ExplicitOrder | Sequence[str] | None) -> TieBreaker:
    """Exactly one of ``draw`` and ``order`` must be given."""
    if (draw is None) == (order is None):
        raise TieResolutionError(RulesErrorCode.INVALID_TIE_ORDER, "give exactly one of draw= and order=")
    if draw is not None:
        return draw
    if isinstance(order, ExplicitOrder):
        return order
    if order is None or isinstance(order, str):
        raise TieResolutionError(RulesErrorCode.INVALID_TIE_ORDER, "order= must be a sequence of codes, not a string")
    return ExplicitOrder(tuple(order))
