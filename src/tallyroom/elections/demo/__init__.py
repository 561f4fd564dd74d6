"""The bundled demo election (Kosovo's 2013 local elections; see docs/demo-data.md)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

DEFINITION = "kosovo-2013.json.gz"
RESULTS = "kosovo-2013-results.json.gz"


def demo_path(name: str = DEFINITION) -> Path:
    return Path(str(resources.files(__name__).joinpath(name)))
