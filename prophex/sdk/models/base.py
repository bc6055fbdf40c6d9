"""The base of every SDK model, and the side type."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

Side = Literal["A", "B"]


class Model(BaseModel):
    """Base of every answer: unknown fields kept, instances immutable."""

    model_config = ConfigDict(extra="allow", frozen=True)
