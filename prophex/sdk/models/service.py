"""Service answers: liveness and the clock."""

from __future__ import annotations

from prophex.sdk.models.base import Model


class Health(Model):
    """``GET /v1/health``."""

    status: str
    command_seq: int
    block_height: int
    time: int


class ServerTime(Model):
    """``GET /v1/time``: the simulated clock (drives funding and epochs) and the wall clock."""

    sim_time: int
    wall_time: str
    block_height: int
