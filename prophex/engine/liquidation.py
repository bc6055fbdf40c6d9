"""Which positions are liquidatable, found without scanning every position.

A long-X position with notional N, cost basis C and margin M is liquidated the moment its
unrealised loss at spot reaches its margin:

    C - price_X * N >= M   <=>   price_X <= (C - M) / N   <=>   (C - M) * (OI_X + OI_O) >= OI_X * N

The right-hand form is exact integer arithmetic; no float decides a liquidation. The threshold
``(C - M) / N`` is the position's liquidation price. It changes only when C, M or N change, so
each market side keeps a max-heap of thresholds: after a price move only the top needs an exact
check, and a cascade pops until the top is healthy. Entries are versioned; a position that
changes pushes a fresh entry and the stale one is skipped when it surfaces.

The heaps hold ``(-ratio_float(num, den), entry)`` pairs, so that ``heapq`` compares them in C:
the float of an integer ratio is correctly rounded (``prophex.money.ratio_float``, in both
builds), hence monotonic, so two different floats order two thresholds exactly as the exact
comparison would, and equal floats fall through to :meth:`HeapEntry.__lt__`, which decides
exactly. Every comparison gives the result the exact one gives, so the heaps pop in the same
order as heaps of bare entries (same digests); the Python-level ``__lt__`` runs only on a float
tie. The comparisons were most of the heap's cost.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

from prophex.money import ratio_float


class HeapEntry:
    """A heap entry ordered so the *highest* liquidation price ``num / den`` comes first, ties
    by lowest position id. One object with one ``__lt__`` keeps heap pushes cheap."""

    __slots__ = ("den", "num", "position_id", "version")

    def __init__(self, num: int, den: int, position_id: int, version: int) -> None:
        self.num = num
        self.den = den
        self.position_id = position_id
        self.version = version

    def __reduce__(self) -> tuple[type[HeapEntry], tuple[int, int, int, int]]:
        return HeapEntry, (self.num, self.den, self.position_id, self.version)

    def __lt__(self, other: HeapEntry) -> bool:
        left, right = self.num * other.den, other.num * self.den
        if left != right:
            return left > right
        return self.position_id < other.position_id


def is_liquidatable(
    cost_basis: int, margin: int, notional: int, oi_side: int, oi_other: int
) -> bool:
    """Exact trigger: unrealised loss at spot >= margin."""
    return (cost_basis - margin) * (oi_side + oi_other) >= oi_side * notional


Keyed = tuple[float, HeapEntry]


def keyed(entry: HeapEntry) -> Keyed:
    """An entry with its float sort key (highest price first): see the module's docstring."""
    return (-ratio_float(entry.num, entry.den), entry)


@dataclass(slots=True)
class LiquidationIndex:
    """One heap per side of a market."""

    heaps: dict[str, list[Keyed]] = field(default_factory=lambda: {"A": [], "B": []})

    def track(
        self, side: str, position_id: int, version: int, numerator: int, notional: int
    ) -> None:
        """Register the current threshold of a position (skip those that can never liquidate)."""
        if numerator > 0:
            heapq.heappush(
                self.heaps[side],
                (
                    -ratio_float(numerator, notional),
                    HeapEntry(numerator, notional, position_id, version),
                ),
            )

    def rebuild(self, side: str, entries: list[HeapEntry]) -> None:
        """Replace a side's heap with fresh entries, dropping the stale ones it accumulated."""
        heap = [keyed(entry) for entry in entries]
        heapq.heapify(heap)
        self.heaps[side] = heap

    def entries(self, side: str) -> list[HeapEntry]:
        """The side's entries, stale ones included, in heap order (for checks and tests)."""
        return [entry for _, entry in self.heaps[side]]

    def top(self, side: str) -> HeapEntry | None:
        heap = self.heaps[side]
        return heap[0][1] if heap else None

    def pop(self, side: str) -> None:
        heapq.heappop(self.heaps[side])

    def size(self) -> int:
        return len(self.heaps["A"]) + len(self.heaps["B"])
