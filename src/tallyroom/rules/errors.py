"""Typed domain errors of the rules engine.

Every error carries a stable code from :class:`RulesErrorCode` so that callers (API, admin, audit
log) can react to the kind of failure without parsing messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType


class RulesErrorCode(StrEnum):
    """Stable machine-readable codes for every way the rules engine refuses an input."""

    # Input shape and values
    INVALID_VOTES = "invalid_votes"
    INVALID_SEATS = "invalid_seats"
    UNKNOWN_METHOD = "unknown_method"
    FLOAT_NOT_ALLOWED = "float_not_allowed"
    INVALID_SHARE = "invalid_share"
    INVALID_CONFIG = "invalid_config"
    # Seat allocation
    NO_VOTES_TO_ALLOCATE = "no_votes_to_allocate"
    INSUFFICIENT_CAPACITY = "insufficient_capacity"
    REMAINDER_SEATS_EXCEED_ENTITIES = "remainder_seats_exceed_entities"
    # Ties
    UNRESOLVED_TIE = "unresolved_tie"
    NO_TIE_TO_RESOLVE = "no_tie_to_resolve"
    INVALID_TIE_ORDER = "invalid_tie_order"
    # Open lists
    DUPLICATE_CANDIDATE = "duplicate_candidate"
    DUPLICATE_LIST_POSITION = "duplicate_list_position"
    UNKNOWN_CANDIDATE = "unknown_candidate"
    # Mayor
    NO_CANDIDATES = "no_candidates"
    NOT_A_RUNOFF = "not_a_runoff"
    UNKNOWN_FINALIST = "unknown_finalist"
    # Result forms
    INVALID_FORM_VALUE = "invalid_form_value"


class RulesError(Exception):
    """Base class of every error raised by :mod:`tallyroom.rules`."""

    def __init__(self, code: RulesErrorCode, message: str, details: Mapping[str, object] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details: Mapping[str, object] = MappingProxyType(dict(details or {}))

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"


class InvalidInputError(RulesError, ValueError):
    """The input cannot be evaluated under the rules (wrong type, negative count, ...)."""


class AllocationError(RulesError):
    """The seats cannot be allocated as the law is written (e.g. not enough candidates)."""


class UnresolvedTieError(RulesError):
    """A result was used as final although it still contains a tie that must be resolved."""


class TieResolutionError(RulesError):
    """A tie resolution was requested that does not fit the tie (wrong names, no tie, ...)."""
