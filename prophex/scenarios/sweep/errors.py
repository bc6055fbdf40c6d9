"""The sweep's one error class (a 422 ``INVALID_SWEEP``, like every refusal of a sweep)."""

from __future__ import annotations

from prophex.errors import ProphexError


class SweepError(ProphexError):
    code = "INVALID_SWEEP"
    status = 422
    title = "Invalid sweep"
