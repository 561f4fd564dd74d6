"""Why a results write was refused; the API maps each code to an HTTP status."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from tallyroom.elections.definition import Problem


class ResultsErrorCode(StrEnum):
    INVALID_FORM = "invalid_form"  # 422: the content cannot be a form of this contest
    UNKNOWN_STATION = "unknown_station"  # 404
    UNKNOWN_CONTEST = "unknown_contest"  # 404
    FORBIDDEN = "forbidden"  # 403
    FORM_EXISTS = "form_exists"  # 409: a different form is already recorded
    WRONG_STATE = "wrong_state"  # 409: the form has moved on (e.g. decided by someone else)
    SAME_CLERK = "same_clerk"  # 409: blind entry needs a second clerk
    CERTIFIED = "certified"  # 409: the contest's results are locked
    NOT_READY = "not_ready"  # 409: certification preconditions unmet
    STALE = "stale"  # 409: the form changed since the caller read it
    ANNULLED = "annulled"  # 409: the station's results for this contest were annulled


STATUS = {
    ResultsErrorCode.INVALID_FORM: 422,
    ResultsErrorCode.UNKNOWN_STATION: 404,
    ResultsErrorCode.UNKNOWN_CONTEST: 404,
    ResultsErrorCode.FORBIDDEN: 403,
}


class ResultsError(Exception):
    def __init__(self, code: ResultsErrorCode, message: str, problems: Sequence[Problem] = ()) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.problems = list(problems)

    @property
    def status(self) -> int:
        return STATUS.get(self.code, 409)
