"""What a successful recovery of the fail-stop sequencer proved (docs/architecture.md)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Recovery:
    """The stored head the sequencer reloaded and verified, and the digest of the state it
    writes from again."""

    block_height: int
    last_hash: str
    command_seq: int
    digest: str
