"""The Wilson score interval, shared by the solvency audit and the sweeps.

Kept apart from :mod:`prophex.audit.solvency` (numpy, the engine, the store) so that a caller
that needs only the interval, like ``prophex sweep``, imports nothing heavy.
"""

from __future__ import annotations

import math


def wilson_interval(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (default: 95%)."""
    if n <= 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))
