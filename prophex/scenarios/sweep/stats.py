"""Statistics of a sweep: Wilson intervals, runs needed, inverted-CDF quantiles, bootstrap.

Quantiles are inverted-CDF (an actual run's value), so the figures are integers of money and
the same whatever executor ran the runs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist

from prophex.audit.stats import wilson_interval

BOOTSTRAP_RESAMPLES = 1_000


def z_two_sided(confidence: float) -> float:
    return NormalDist().inv_cdf((1 + confidence) / 2)


def wilson(k: int, n: int, z: float) -> tuple[float, float]:
    """Wilson score interval of k successes in n trials for the normal quantile ``z``, with
    exact ends: no success gives a lower bound of exactly 0, all successes an upper bound of
    exactly 1 (the float formula can miss them by a rounding)."""
    low, high = wilson_interval(k, n, z)
    if n <= 0:
        return (low, high)
    return (0.0 if k == 0 else low, 1.0 if k == n else high)


def upper_bound(k: int, n: int, confidence: float) -> float:
    """One-sided Wilson upper bound at ``confidence`` (z = Phi^-1(confidence))."""
    return wilson(k, n, NormalDist().inv_cdf(confidence))[1]


def runs_needed(target: float, confidence: float) -> int:
    """Fewest runs whose one-sided Wilson upper bound can be <= ``target`` (with no depletion):
    ``ceil(z^2 (1 - target) / target)``, z = Phi^-1(confidence)."""
    z = NormalDist().inv_cdf(confidence)
    n = math.ceil(z * z * (1 - target) / target - 1e-9)
    while n > 1 and upper_bound(0, n - 1, confidence) <= target:
        n -= 1
    while upper_bound(0, n, confidence) > target:
        n += 1
    return n


def inverted_quantile(ordered: Sequence[int], q: float) -> int:
    n = len(ordered)
    return int(ordered[min(n - 1, max(0, math.ceil(q * n) - 1))])


def bootstrap_interval(
    values: Sequence[int], q: float, confidence: float, seed: int = 0
) -> tuple[int, int]:
    """Percentile-bootstrap interval of the inverted-CDF ``q`` quantile: ``BOOTSTRAP_RESAMPLES``
    resamples from ``numpy.random.default_rng(seed)``; the interval's ends are the resampled
    quantiles' own inverted-CDF (1 - c)/2 and (1 + c)/2 quantiles (actual run values)."""
    import numpy as np

    data = np.sort(np.asarray(values, dtype=np.int64))
    n = len(data)
    rng = np.random.default_rng(seed)
    samples = np.sort(data[rng.integers(0, n, size=(BOOTSTRAP_RESAMPLES, n))], axis=1)
    index = min(n - 1, max(0, math.ceil(q * n) - 1))
    stats = np.sort(samples[:, index])
    low = inverted_quantile(stats.tolist(), (1 - confidence) / 2)
    high = inverted_quantile(stats.tolist(), (1 + confidence) / 2)
    return low, high
