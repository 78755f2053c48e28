"""A figure as the test scorecard stores it: value, 95% interval, n and why it is missing.

``{"value", "interval", "n", "reason"}``: ``value`` None when it cannot be computed (a
label no test image has: null, never 0), ``interval`` None when there is no honest one,
``reason`` saying why either is missing. Pure.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labeler.agreement.metrics.figures import wilson_bounds
from labeler.predictions.evaluation import INTERVAL_LEVEL


def figure(value: Any, n: int, interval: Any = None, reason: str | None = None) -> dict:
    """One figure: its value (None, NaN: cannot be computed), interval, n and reason."""
    missing = value is None or not np.isfinite(value)
    return {
        "value": None if missing else float(value),
        "interval": None if missing or interval is None else [float(x) for x in interval],
        "n": int(n),
        "reason": reason,
    }


def wilson(successes: int, n: int) -> list[float] | None:
    """The 95% Wilson score interval of a share (``wilson_bounds``; None over no item)."""
    return list(wilson_bounds(successes, n, INTERVAL_LEVEL)) if n > 0 else None
