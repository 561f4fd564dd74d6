"""Three languages from the start: complete catalogues, compiled, and used by the pages."""

from __future__ import annotations

import ast
import gettext
import re
from pathlib import Path

import pytest
from django.test import Client

from tallyroom.elections.models import Election

LOCALE = Path(__file__).parents[1] / "src" / "tallyroom" / "locale"
LANGS = ["sq", "sr_Latn"]


def po_entries(path: Path) -> list[tuple[str, list[str]]]:
    """(msgid, msgstrs) of every non-header entry; a minimal reader for our own catalogues."""
    entries = []
    for block in path.read_text("utf-8").split("\n\n"):
        if block.lstrip().startswith("#~"):
            continue
        fields: dict[str, str] = {}
        key = ""
        for line in block.splitlines():
            if line.startswith("#"):
                continue
            match = re.match(r'^(msgid|msgid_plural|msgstr(?:\[\d\])?) (".*")$', line)
            if match:
                key = match.group(1)
                fields[key] = ast.literal_eval(match.group(2))
            elif line.startswith('"') and key:
                fields[key] += ast.literal_eval(line)
        if fields.get("msgid"):
            strs = [v for k, v in sorted(fields.items()) if k.startswith("msgstr")]
            entries.append((fields["msgid"], strs))
    return entries


@pytest.mark.parametrize("lang", LANGS)
def test_catalogue_is_complete_and_compiled(lang: str) -> None:
    po = LOCALE / lang / "LC_MESSAGES" / "django.po"
    mo = po.with_suffix(".mo")
    entries = po_entries(po)
    assert len(entries) > 50
    untranslated = [msgid for msgid, strs in entries if not all(strs)]
    assert untranslated == []
    assert "#, fuzzy" not in po.read_text("utf-8").split("\n\n", 1)[1]
    with mo.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    stale = [msgid for msgid, strs in entries if len(strs) == 1 and compiled.gettext(msgid) != strs[0]]
    assert stale == [], "run: cd src/tallyroom && django-admin compilemessages"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("prefix", "heading", "column"),
    [
        ("", "Municipalities", "Registered voters"),
        ("/sq", "Komunat", "Votues të regjistruar"),
        ("/sr-latn", "Opštine", "Upisani birači"),
    ],
)
def test_public_page_in_each_language(
    small_election: Election, client: Client, prefix: str, heading: str, column: str
) -> None:
    html = client.get(f"{prefix}/elections/test-2025/").content.decode()
    assert heading in html
    assert column in html
    # Municipality names follow the language too.
    assert ("Severna Mitrovica" in html) == (prefix == "/sr-latn")


@pytest.mark.django_db
@pytest.mark.parametrize(("prefix", "text"), [("/sq", "Hyni"), ("/sr-latn", "Korisničko ime")])
def test_admin_is_translated(client: Client, prefix: str, text: str) -> None:
    html = client.get(f"{prefix}/admin/login/").content.decode()
    assert text in html


@pytest.mark.django_db
def test_the_site_stylesheet_is_served(client: Client) -> None:
    response = client.get("/static/tallyroom/site.css")
    assert response.status_code == 200
    assert b"--accent" in b"".join(response.streaming_content)  # type: ignore[attr-defined]
