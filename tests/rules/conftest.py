"""The rules engine's tests need neither Django nor a database.

They must also run with ``-p no:django``; the project-wide autouse fixture that tunes Django's
password hashers needs pytest-django's ``settings`` fixture, so it is replaced here by a no-op.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
if str(SRC) not in sys.path:  # the package is normally installed in editable mode
    sys.path.insert(0, str(SRC))


@pytest.fixture(autouse=True)
def _fast_password_hashing() -> None:
    """Overrides the project fixture of the same name: no Django here."""
