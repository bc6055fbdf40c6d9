"""Per-key token buckets: steady ``rate`` requests per second with bursts up to ``burst``.

Buckets live in memory (one server process owns the sequencer anyway). Every answer carries
the quota left so a well-behaved bot can pace itself instead of discovering the limit by
hitting it; a refusal says exactly how long to wait (``Retry-After``).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass


@dataclass(slots=True)
class _Bucket:
    tokens: float
    stamp: float


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    retry_after: int


class RateLimiter:
    """Token buckets keyed by an identity (key id, or client address for anonymous calls)."""

    def __init__(self, rate: float, burst: int, max_keys: int = 100_000) -> None:
        self.rate = rate
        self.burst = burst
        self._max_keys = max_keys
        self._buckets: dict[str, _Bucket] = {}
        self._mutex = threading.Lock()

    def take(self, identity: str, cost: float = 1.0) -> Decision:
        """Consume ``cost`` tokens if available."""
        if self.rate <= 0:
            return Decision(True, self.burst, self.burst, 0)
        now = time.monotonic()
        with self._mutex:
            bucket = self._buckets.get(identity)
            if bucket is None:
                if len(self._buckets) >= self._max_keys:
                    self._buckets.clear()
                bucket = self._buckets[identity] = _Bucket(float(self.burst), now)
            bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.stamp) * self.rate)
            bucket.stamp = now
            if bucket.tokens >= cost:
                bucket.tokens -= cost
                return Decision(True, self.burst, int(bucket.tokens), 0)
            wait = math.ceil((cost - bucket.tokens) / self.rate)
            return Decision(False, self.burst, 0, max(1, wait))
