"""The lagging files (election-wide pages and files, municipalities' data files): rendered apart from
the page snapshots, at a slower pace, and linked into the next snapshot."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from tallyroom.elections.models import Municipality
from tallyroom.publish.files import file_name
from tallyroom.publish.publisher import publisher_run
from tallyroom.publish.services import lagging_refresh, lagging_sets, snapshot_publish
from tallyroom.publish.snapshot import Written, lagging_read, site_items
from tests.publish.snapshots_helpers import count_form, use_tmp_publication

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(settings: Any, tmp_path: Path) -> Path:
    return use_tmp_publication(settings, tmp_path)


def _lagging_items() -> list[tuple[str, str, int | None]]:
    return [(i.path, file_name(i.path), i.municipality_id) for i in site_items() if i.national]


def test_a_page_snapshot_takes_the_newest_lagging_set(small_election: Any, root: Path) -> None:
    assert snapshot_publish(root, national=False) is not None  # the first renders everything
    count_form("0101C/01R", "assembly", {"BLUE": 300, "GREEN": 200})
    pages = snapshot_publish(root, national=False)
    assert pages is not None and pages.national_lags  # the form is on its pages, not yet in the data files
    lagging = lagging_refresh(root)
    assert lagging is not None and lagging_refresh(root) is None  # nothing new: no second set
    seq, files = lagging_read(lagging)
    assert seq == pages.audit_seq + 1  # cut after the page snapshot's own publication entry
    # Nothing changed on any page, but the new set is published, linked, and equals the live site.
    linked = snapshot_publish(root, national=False)
    assert linked is not None and not linked.national_lags and linked.rendered <= 2
    for path, name, _ in _lagging_items():
        assert name in files
        assert os.path.samefile(lagging / name, linked.folder / name)
        assert (linked.folder / name).read_bytes() == Client().get(path).content, path


def test_a_new_set_renders_only_the_municipalities_that_changed(small_election: Any, root: Path) -> None:
    assert snapshot_publish(root, national=False) is not None
    first = lagging_refresh(root)
    assert first is not None
    count_form("3801A/02R", "assembly", {"CIV": 250}, registered=688)
    second = lagging_refresh(root)
    assert second is not None and lagging_sets(root) == [first, second]
    north = Municipality.objects.get(code="38").pk
    for path, name, municipality in _lagging_items():
        same = os.path.samefile(first / name, second / name)
        # The north's data files and the election-wide ones are new; the south's are kept.
        assert same == (municipality is not None and municipality != north), path


def test_the_publisher_links_a_new_set_without_any_page_change(small_election: Any, root: Path) -> None:
    assert snapshot_publish(root, national=False) is not None
    count_form("0101C/01R", "assembly", {"BLUE": 300, "GREEN": 200})
    assert snapshot_publish(root, national=False) is not None
    lagging = lagging_refresh(root)
    assert lagging is not None
    published: list[Written] = []
    publisher_run(
        root,
        debounce=0,
        poll=0,
        should_stop=lambda: bool(published),
        on_publish=published.append,
        recycle_connections=False,
    )
    assert published[0].national_data_seq == lagging_read(lagging)[0]
    assert not published[0].national_lags


def test_the_lagging_process_yields_the_cpu_to_the_pages(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, settings: Any
) -> None:
    import signal

    from django.core.management import call_command

    from tallyroom.publish import publisher

    settings.TALLYROOM_LAGGING_NICE = 7
    niced: list[int] = []
    runs: list[Path] = []
    monkeypatch.setattr(os, "nice", lambda n: niced.append(n) or n)
    monkeypatch.setattr(signal, "signal", lambda *_: None)
    monkeypatch.setattr(publisher, "lagging_run", lambda root, **_: runs.append(root))
    call_command("publish", "--lagging", "--root", str(tmp_path))
    assert (niced, runs) == ([7], [tmp_path])


def test_the_lagging_process_survives_a_failed_set(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from tallyroom.publish import publisher

    calls: list[int] = []
    refreshed: list[Path] = []

    def full_once(root: Path) -> Path | None:
        calls.append(1)
        if len(calls) == 1:
            raise OSError(28, "No space left on device")
        return root / "000000000042"

    monkeypatch.setattr(publisher, "lagging_refresh", full_once)
    publisher.lagging_run(
        tmp_path,
        every=0,
        should_stop=lambda: bool(refreshed) or len(calls) > 5,
        on_refresh=refreshed.append,
        recycle_connections=False,
    )
    assert len(calls) == 2 and refreshed == [tmp_path / "000000000042"]
