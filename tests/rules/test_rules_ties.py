"""Tie resolution: the recorded draw is reproducible from its documented algorithm."""

from __future__ import annotations

import hashlib

import pytest

from tallyroom.rules import ExplicitOrder, SeededDraw, TieResolutionError


def test_draw_follows_the_documented_algorithm() -> None:
    draw = SeededDraw("4-1-6-3")
    record = draw.rank(["PDK", "LDK", "VV"], 1, "seats:sainte-lague:last-seat")
    # Anyone can replay it: sha256("tallyroom-lots/1\n" + seed + "\n" + code), ascending.
    keys = {
        code: hashlib.sha256(f"tallyroom-lots/1\n4-1-6-3\n{code}".encode()).hexdigest() for code in ("PDK", "LDK", "VV")
    }
    assert record.order == tuple(sorted(keys, key=keys.__getitem__))
    assert record.keys == tuple(sorted(keys.values()))
    assert record.winners == record.order[:1]
    assert record.contenders == ("LDK", "PDK", "VV")
    assert record.method == "lots-sha256/1"
    assert record.seed == "4-1-6-3"


def test_draw_does_not_depend_on_input_order() -> None:
    a = SeededDraw("x").rank(["A", "B", "C", "D"], 2, "ctx")
    b = SeededDraw("x").rank(["D", "C", "B", "A"], 2, "ctx")
    assert a == b


def test_different_seeds_give_different_orders_sometimes() -> None:
    orders = {SeededDraw(str(seed)).rank(["A", "B", "C"], 1, "c").order for seed in range(50)}
    assert len(orders) == 6  # all 3! orders appear across 50 seeds


def test_fresh_seed_is_recorded() -> None:
    draw = SeededDraw.fresh("CEC session 12")
    record = draw.rank(["A", "B"], 1, "c")
    assert record.seed == draw.seed
    assert len(draw.seed) == 32
    assert record.reference == "CEC session 12"


def test_explicit_order() -> None:
    record = ExplicitOrder(("B", "A", "C"), "decision 7/2013").rank(["A", "C"], 1, "c")
    assert record.order == ("A", "C")
    assert record.winners == ("A",)
    assert record.as_dict()["reference"] == "decision 7/2013"


@pytest.mark.parametrize(
    ("contenders", "places"),
    [(["A", "A"], 1), ([], 0), (["A", "B"], 2), (["A", "B"], 0)],
)
def test_not_a_tie(contenders: list[str], places: int) -> None:
    with pytest.raises(TieResolutionError):
        SeededDraw("s").rank(contenders, places, "c")


def test_bad_explicit_orders_and_seeds() -> None:
    with pytest.raises(TieResolutionError):
        ExplicitOrder(("A", "A"))
    with pytest.raises(TieResolutionError):
        SeededDraw("  ")
    with pytest.raises(TieResolutionError):
        ExplicitOrder(("A",)).rank(["A", "B"], 1, "c")


def test_record_is_json_ready() -> None:
    record = SeededDraw("s").rank(["A", "B"], 1, "c")
    assert record.as_dict() == {
        "method": "lots-sha256/1",
        "context": "c",
        "contenders": ["A", "B"],
        "places": 1,
        "order": list(record.order),
        "winners": list(record.winners),
        "seed": "s",
        "keys": list(record.keys),
        "reference": "",
    }
