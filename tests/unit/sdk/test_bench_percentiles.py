"""``prophex bench api`` reports nearest-rank percentiles."""

from __future__ import annotations

from prophex.bench.api import percentile


def test_nearest_rank_percentiles() -> None:
    values = [float(i) for i in range(1, 1001)]  # 1..1000 ms
    assert percentile(values, 500) == 500.0
    assert percentile(values, 990) == 990.0
    assert percentile(values, 999) == 999.0
    assert percentile([3.0], 999) == 3.0
    assert percentile([], 500) == 0.0
    assert percentile([1.0, 2.0, 3.0], 500) == 2.0  # rank ceil(1.5) = 2
