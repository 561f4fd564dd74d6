"""Small filters for the election-day pages."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.filter
def get_item(mapping: Any, key: Any) -> Any:
    """`mapping|get_item:key`: a dict lookup by a variable key (None when absent)."""
    try:
        return mapping.get(key)
    except AttributeError:
        return None


@register.filter
def pct(share: float | None) -> str:
    """A share (0..1) as a percentage with one decimal; a dash when unknown."""
    return "–" if share is None else f"{share * 100:.1f}%"
