"""The signed manifest's bytes: the same JSON as the manifest, one line per file, whatever the names."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as s

from tallyroom.publish.snapshot import manifest_bytes

entries = s.fixed_dictionaries({"sha256": s.text(alphabet="0123456789abcdef", max_size=64), "size": s.integers(0)})


@given(files=s.dictionaries(s.text(), entries, max_size=20), head=s.integers(0))
def test_the_manifest_reads_back_as_written(files: dict[str, dict[str, object]], head: int) -> None:
    manifest: dict[str, object] = {"format": "f", "audit_head": {"seq": head, "entry_hash": "h"}, "files": files}
    blob = manifest_bytes(manifest)
    assert json.loads(blob) == manifest
    assert blob.endswith(b"}\n")


def test_one_line_per_file_in_name_order() -> None:
    files = {
        "b/index.html": {"sha256": "bb", "size": 2},
        'a"}, "x': {"sha256": "aa", "size": 1},  # a name that looks like the entries' separator
        "é/ü.json": {"sha256": "cc", "size": 0},
    }
    text = manifest_bytes({"format": "f", "files": files}).decode("utf-8")
    assert text.splitlines() == [
        "{",
        ' "files": {',
        '  "a\\"}, \\"x": {"sha256": "aa", "size": 1},',
        '  "b/index.html": {"sha256": "bb", "size": 2},',
        '  "é/ü.json": {"sha256": "cc", "size": 0}',
        " },",
        ' "format": "f"',
        "}",
    ]
    assert manifest_bytes({"format": "f", "files": {}}) == b'{\n "files": {},\n "format": "f"\n}\n'
