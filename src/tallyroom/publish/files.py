"""How a snapshot is laid out on disk; no Django import, so the serving layer stays light."""

from __future__ import annotations

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
PUBLIC_KEY = "publication-key.pem"
FORMAT = "tallyroom-snapshot/1"


def file_name(path: str) -> str:
    """Where a URL path lives in the snapshot: pages are folders with an index.html."""
    name = path.lstrip("/")
    return f"{name}index.html" if name == "" or name.endswith("/") else name
