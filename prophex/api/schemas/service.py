"""Service answers: liveness and the clock."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class Health(BaseModel):
    status: Literal["ok"]
    command_seq: int
    block_height: int = Field(description="height of the last block stored in the database")
    time: int = Field(description="simulated clock (same as sim_time)")
    sim_time: int
    wall_time: str


class TimeView(BaseModel):
    sim_time: int = Field(description="simulated clock, seconds; drives funding and epochs")
    wall_time: str = Field(description="server wall clock, RFC 3339 UTC")
    block_height: int = Field(description="height of the last block stored in the database")
