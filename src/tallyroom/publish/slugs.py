"""Station codes in URLs: `0101C/01R` becomes `0101C_01R`, one path segment and one file name.

Station codes never hold "_" (the commission's codes are digits, letters and "/"), so the mapping
goes both ways.
"""

from __future__ import annotations


def station_slug(code: str) -> str:
    return code.replace("/", "_")


def station_code(slug: str) -> str:
    """The inverse of `station_slug`."""
    return slug.replace("_", "/")
