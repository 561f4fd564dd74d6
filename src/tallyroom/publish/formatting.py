"""Numbers as each language writes them: 1,234.5 in English, 1.234,5 in Albanian and Serbian.

Django's Albanian formats name a thousands separator but no grouping, so `intcomma` would print
1234567 there; these group by three wherever the locale does not say otherwise.
"""

from __future__ import annotations

from decimal import Decimal

from django.utils import numberformat
from django.utils.formats import get_format
from django.utils.translation import get_language

DASH = "–"


def num(value: int | Decimal | None, decimals: int | None = None) -> str:
    if value is None:
        return DASH
    lang = get_language()
    if isinstance(value, int) and decimals is None and get_format("NUMBER_GROUPING", lang) in (0, 3):
        # The common case, fast: a page can hold thousands of counts.
        return f"{value:,}".replace(",", get_format("THOUSAND_SEPARATOR", lang))
    return str(
        numberformat.format(
            value,
            get_format("DECIMAL_SEPARATOR", lang),
            decimals,
            get_format("NUMBER_GROUPING", lang) or 3,
            get_format("THOUSAND_SEPARATOR", lang),
            force_grouping=True,
        )
    )


def pct(value: Decimal | None) -> str:
    """A percentage with two decimals: 37.26% / 37,26%."""
    return DASH if value is None else f"{num(value, 2)}%"
