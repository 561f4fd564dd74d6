"""What would change if a definition replaced the one loaded: lines a commission can read."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

# Lists whose items are matched by a key rather than by position.
_KEYS = ("code", "entity", "position", "name", "field")


def describe_changes(old: Any, new: Any, path: str = "") -> Iterator[str]:
    """Yield one line per difference, with the item's code in the path."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            sub = f"{path}.{key}" if path else key
            if key not in old:
                yield f"{sub}: added {_short(new[key])}"
            elif key not in new:
                yield f"{sub}: removed"
            else:
                yield from describe_changes(old[key], new[key], sub)
        return
    key = _list_key(old, new)
    if key:
        yield from _describe_keyed(old, new, path, key)
        return
    if old != new:
        yield f"{path}: {_short(old)} -> {_short(new)}"


def _list_key(old: Any, new: Any) -> str | None:
    if not (isinstance(old, list) and isinstance(new, list)):
        return None
    items = old + new
    if not items or not all(isinstance(i, dict) for i in items):
        return None
    for key in _KEYS:
        values = [i.get(key) for i in items]
        if all(v is not None for v in values) and _unique(old, key) and _unique(new, key):
            return key
    return None


def _unique(items: list[dict[str, Any]], key: str) -> bool:
    return len({str(i[key]) for i in items}) == len(items)


def _describe_keyed(old: list[Any], new: list[Any], path: str, key: str) -> Iterator[str]:
    before = {str(i[key]): i for i in old}
    after = {str(i[key]): i for i in new}
    for ident in sorted(set(before) | set(after)):
        sub = f"{path}[{ident}]"
        if ident not in before:
            yield f"{sub}: added"
        elif ident not in after:
            yield f"{sub}: removed"
        else:
            yield from describe_changes(before[ident], after[ident], sub)
    if [str(i[key]) for i in old if str(i[key]) in after] != [str(i[key]) for i in new if str(i[key]) in before]:
        yield f"{path}: order changed"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
