"""Small statistical helpers shared by the forensic methods."""

from __future__ import annotations

import numpy as np

from tallyroom.rules.forensics.table import FloatArray, IntArray


def bh_adjust(p_values: FloatArray) -> FloatArray:
    """Benjamini–Hochberg adjusted p-values (NaN stays NaN).

    Under the complete null (a clean election) rejecting where the adjusted value is below alpha
    has family-wise error at most alpha, and it keeps the false discovery rate at alpha otherwise.
    """
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    if finite.size == 0:
        return out
    values = p[finite]
    order = np.argsort(values, kind="stable")
    m = values.size
    ranked = values[order] * m / np.arange(1, m + 1)
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(ranked, 1.0)
    out[finite] = adjusted
    return out


def holm_adjust(p_values: FloatArray) -> FloatArray:
    """Holm–Bonferroni adjusted p-values (NaN stays NaN)."""
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    if finite.size == 0:
        return out
    values = p[finite]
    order = np.argsort(values, kind="stable")
    m = values.size
    ranked = values[order] * (m - np.arange(m))
    ranked = np.maximum.accumulate(ranked)
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(ranked, 1.0)
    out[finite] = adjusted
    return out


def mc_upper_p_value(observed: float, null: IntArray | FloatArray) -> float:
    """One-sided Monte Carlo p-value P(null >= observed), never zero: (1 + #{null >= obs}) / (M + 1)."""
    values = np.asarray(null)
    return float((1 + np.count_nonzero(values >= observed)) / (values.size + 1))


def to_builtin(value: object) -> object:
    """Numpy scalars and arrays (also nested in dicts, lists, tuples) as plain JSON-ready Python values.

    Non-finite floats become None (JSON has no NaN).
    """
    if isinstance(value, dict):
        return {str(key): to_builtin(item) for key, item in value.items()}
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
            out = value.astype(object)
            out[~np.isfinite(value)] = None
            return out.tolist()
        return value.tolist()
    if isinstance(value, list | tuple):
        return [to_builtin(item) for item in value]
    return _scalar(value)


def _scalar(value: object) -> object:
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating | float):
        return finite_or_none(float(value))
    return value


def finite_or_none(value: float) -> float | None:
    """A float for JSON: None when it is NaN or infinite."""
    number = float(value)
    return number if np.isfinite(number) else None
