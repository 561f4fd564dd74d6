"""Reading and validating an election definition file, before anything touches the database.

Every problem is reported with its JSON path (`municipalities[3].stations[17].registered`), so a
commission can fix a file of thousands of stations in one pass.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import re
import zlib
import zoneinfo
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

FORMAT = "tallyroom-election/1"
DEFAULT_SETTINGS: dict[str, Any] = {
    "assembly_method": "sainte-lague",
    "assembly_threshold": 0,
    "gender_quota": 0.3,
    "max_preferences": 1,
    "same_day_allowance": 0.05,
    "complaint_filing_hours": 24,
    "complaint_deciding_hours": 72,
    "quarantine_invalid_share": 0.10,
    "quarantine_dominant_share": 0.95,
    "quarantine_high_turnout_share": 0.90,
}


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with a file, at a JSON path."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class DefinitionError(ValueError):
    """The file cannot be loaded; `problems` lists every reason."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = sorted(problems, key=_path_sort_key)
        super().__init__("\n".join(str(p) for p in self.problems))


@cache
def schema() -> dict[str, Any]:
    text = resources.files("tallyroom.elections").joinpath("schema/election-definition.schema.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def read_file(path: Path) -> Any:
    """Parse a `.json` or `.json.gz` file; unreadable or malformed files raise DefinitionError."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DefinitionError([Problem("", f"cannot read {path}: {exc.strerror}")]) from exc
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise DefinitionError([Problem("", f"{path} is not a valid gzip file")]) from exc
    try:
        return json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise DefinitionError([Problem("", f"{path} is not UTF-8 text (byte {exc.start})")]) from exc
    except json.JSONDecodeError as exc:
        raise DefinitionError(
            [Problem("", f"malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}")]
        ) from exc


def canonical_sha256(doc: Any) -> str:
    """A digest of the content, independent of key order and white space."""
    digest = hashlib.sha256()
    for chunk in canonical_chunks(doc):
        digest.update(chunk)
    return digest.hexdigest()


def canonical_bytes(doc: Any) -> bytes:
    return json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def canonical_chunks(doc: Any) -> Iterator[bytes]:
    """`canonical_bytes(doc)` in pieces, a municipality at a time: a national definition's text is
    ~100 MB, which neither this process nor the database should hold whole."""
    munis = doc.get("municipalities") if isinstance(doc, dict) else None
    if not isinstance(munis, list) or not all(isinstance(k, str) for k in doc):
        yield canonical_bytes(doc)
        return
    for i, key in enumerate(sorted(doc)):
        head = ("{" if i == 0 else ",") + json.dumps(key, ensure_ascii=False) + ":"
        if key != "municipalities":
            yield head.encode("utf-8") + canonical_bytes(doc[key])
            continue
        yield (head + "[").encode("utf-8")
        for j, muni in enumerate(munis):
            yield (b"," if j else b"") + canonical_bytes(muni)
        yield b"]"
    yield b"}"


@dataclass(frozen=True)
class Packed:
    """A definition as stored: its canonical JSON compressed, and that JSON's digest."""

    data: bytes
    sha256: str


def definition_pack(doc: Any) -> Packed:
    digest = hashlib.sha256()
    packer = zlib.compressobj(6)
    parts = []
    for chunk in canonical_chunks(doc):
        digest.update(chunk)
        parts.append(packer.compress(chunk))
    parts.append(packer.flush())
    return Packed(b"".join(parts), digest.hexdigest())


def definition_unpack(data: bytes | memoryview) -> Any:
    return json.loads(zlib.decompress(data))


def validate(doc: Any) -> list[Problem]:
    """Every problem in the document: the schema's, and the rules the schema cannot express.

    Cross-reference checks run over whatever parts are well-formed, so one pass reports all.
    """
    problems = {_schema_problem(err) for err in Draft202012Validator(schema()).iter_errors(doc)}
    if isinstance(doc, dict):
        problems.update(_semantic_problems(doc))
    return sorted(problems, key=_path_sort_key)


def with_defaults(doc: dict[str, Any]) -> dict[str, Any]:
    """The document with every optional top-level value made explicit."""
    out = dict(doc)
    out.setdefault("polls_open", "07:00")
    out.setdefault("polls_close", "19:00")
    out.setdefault("turnout_times", ["11:00", "15:00", "19:00"])
    out["settings"] = {**DEFAULT_SETTINGS, **doc.get("settings", {})}
    out.setdefault("estimates", [])
    out.setdefault("source", "")
    return out


def json_path(parts: Iterable[str | int]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _path_sort_key(problem: Problem) -> tuple[tuple[int, int | str], ...]:
    """Natural order: `stations[2]` before `stations[10]`, `row 9` before `row 10`."""
    parts = re.split(r"(\d+)", problem.path)
    key = tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts)
    return (*key, (2, problem.message))


def _schema_problem(err: ValidationError) -> Problem:
    path = list(err.absolute_path)
    value = err.instance
    kind = err.validator
    limit = err.validator_value
    if kind == "required":
        missing = str(err.message).split("'")[1] if "'" in err.message else "?"
        return Problem(json_path([*path, missing]), "is required")
    if kind == "additionalProperties":
        extra = sorted(set(value) - set(err.schema.get("properties", {}))) if isinstance(value, dict) else []
        return Problem(json_path(path), f"unknown field(s): {', '.join(extra)}")
    messages = {
        "minimum": f"must be >= {limit} (got {value!r})",
        "maximum": f"must be <= {limit} (got {value!r})",
        "type": f"must be {_a_type(limit)} (got {_json_type(value)})",
        "enum": f"must be one of {', '.join(map(repr, limit or []))} (got {value!r})",
        "const": f"must be {limit!r} (got {value!r})",
        "minLength": "must not be empty" if limit == 1 else f"must have at least {limit} characters",
        "maxLength": f"must have at most {limit} characters",
        "minItems": "must not be empty" if limit == 1 else f"must have at least {limit} items",
        "uniqueItems": "must not repeat items",
        "pattern": _pattern_message(path, value),
    }
    return Problem(json_path(path), messages.get(str(kind), err.message))


def _pattern_message(path: Sequence[str | int], value: object) -> str:
    last = path[-1] if path else ""
    if last in {"date"}:
        return f"must be a date YYYY-MM-DD (got {value!r})"
    if (isinstance(last, str) and ("polls" in last)) or (len(path) >= 2 and path[-2] == "turnout_times"):
        return f"must be a time HH:MM (got {value!r})"
    return f"must be a code of 1-40 letters, digits, '_', '.', '/' or '-' (got {value!r})"


def _a_type(name: object) -> str:
    return {
        "integer": "a whole number",
        "number": "a number",
        "string": "a string",
        "object": "an object",
        "array": "a list",
        "boolean": "true or false",
    }.get(str(name), str(name))


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int):
        return f"the whole number {value}"
    if isinstance(value, float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {value!r}"
    return {dict: "an object", list: "a list", type(None): "null"}.get(type(value), type(value).__name__)


def _items(parent: Any, key: str) -> list[tuple[int, dict[str, Any]]]:
    """(index, item) for each well-formed object in `parent[key]`; the schema reports the rest."""
    value = parent.get(key) if isinstance(parent, dict) else None
    if not isinstance(value, list):
        return []
    return [(i, item) for i, item in enumerate(value) if isinstance(item, dict)]


def _str(item: dict[str, Any], key: str) -> str | None:
    value = item.get(key)
    return value if isinstance(value, str) else (str(value) if isinstance(value, int) else None)


def _duplicates(items: Iterable[tuple[str | None, str]], what: str) -> Iterator[Problem]:
    """Flag every repeat of a key; `items` yields (key, path-of-the-key)."""
    first: dict[str, str] = {}
    for key, path in items:
        if key is None:
            continue
        if key in first:
            yield Problem(path, f"duplicate {what} {key!r} (also {first[key]})")
        else:
            first[key] = path


def _semantic_problems(doc: dict[str, Any]) -> Iterator[Problem]:
    yield from _check_clock(doc)
    yield from _check_rounds(_items(doc, "rounds"))
    entities = _items(doc, "entities")
    entity_codes = {c for _, e in entities if (c := _str(e, "code"))}
    yield from _duplicates(((_str(e, "code"), f"entities[{i}].code") for i, e in entities), "code")
    munis = _items(doc, "municipalities")
    yield from _duplicates(((_str(m, "code"), f"municipalities[{i}].code") for i, m in munis), "code")
    yield from _duplicates(
        (
            (_str(c, "code"), f"municipalities[{i}].centres[{j}].code")
            for i, m in munis
            for j, c in _items(m, "centres")
        ),
        "polling centre code",
    )
    yield from _duplicates(
        (
            (_str(s, "code"), f"municipalities[{i}].stations[{j}].code")
            for i, m in munis
            for j, s in _items(m, "stations")
        ),
        "polling station code",
    )
    for i, muni in munis:
        yield from _check_municipality(f"municipalities[{i}]", muni, entity_codes)


def _check_clock(doc: dict[str, Any]) -> Iterator[Problem]:
    zone = doc.get("timezone")
    if isinstance(zone, str) and zone:
        try:
            zoneinfo.ZoneInfo(zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            yield Problem("timezone", f"unknown time zone {zone!r} (use an IANA name such as Europe/Belgrade)")
    opens, closes = doc.get("polls_open", "07:00"), doc.get("polls_close", "19:00")
    if isinstance(opens, str) and isinstance(closes, str) and opens >= closes:
        yield Problem("polls_close", f"must be later than polls_open ({opens})")


def _check_rounds(rounds: list[tuple[int, dict[str, Any]]]) -> Iterator[Problem]:
    yield from _duplicates(((_str(r, "code"), f"rounds[{i}].code") for i, r in rounds), "round code")
    firsts = [i for i, r in rounds if r.get("kind") == "first"]
    if rounds and len(firsts) != 1:
        yield Problem("rounds", f"must have exactly one round of kind 'first' (found {len(firsts)})")
    dates: dict[int, dt.date] = {}
    for i, rnd in rounds:
        text = rnd.get("date")
        if not isinstance(text, str):
            continue
        try:
            dates[i] = dt.date.fromisoformat(text)
        except ValueError:
            yield Problem(f"rounds[{i}].date", f"is not a real date (got {text!r})")
    first_date = dates.get(firsts[0]) if len(firsts) == 1 else None
    if first_date:
        for i, day in dates.items():
            if day < first_date:
                yield Problem(f"rounds[{i}].date", f"is before the first round ({first_date.isoformat()})")


def _check_municipality(at: str, muni: dict[str, Any], entity_codes: set[str]) -> Iterator[Problem]:
    centres = {c for _, item in _items(muni, "centres") if (c := _str(item, "code"))}
    for j, station in _items(muni, "stations"):
        centre = _str(station, "centre")
        if centre is not None and centre not in centres:
            yield Problem(
                f"{at}.stations[{j}].centre",
                f"unknown polling centre {centre!r} (not in {at}.centres)",
            )
    lists = _items(muni, "assembly")
    yield from _duplicates(((_str(lst, "entity"), f"{at}.assembly[{k}].entity") for k, lst in lists), "list for entity")
    for k, lst in lists:
        entity = _str(lst, "entity")
        if entity is not None and entity not in entity_codes:
            yield Problem(f"{at}.assembly[{k}].entity", f"unknown entity {entity!r} (not in entities)")
        yield from _duplicates(
            (
                (_str(c, "position"), f"{at}.assembly[{k}].candidates[{n}].position")
                for n, c in _items(lst, "candidates")
            ),
            "list position",
        )
    mayors = _items(muni, "mayor")
    yield from _duplicates(((_str(c, "name"), f"{at}.mayor[{k}].name") for k, c in mayors), "mayoral candidate")
    # Mayoral result forms record votes by entity: one candidate per entity and municipality.
    yield from _duplicates(
        ((_str(c, "entity"), f"{at}.mayor[{k}].entity") for k, c in mayors), "mayoral candidate of entity"
    )
    for k, cand in mayors:
        entity = _str(cand, "entity")
        if entity is not None and entity not in entity_codes:
            yield Problem(f"{at}.mayor[{k}].entity", f"unknown entity {entity!r} (not in entities)")
