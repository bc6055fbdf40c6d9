"""What a recovery of the fail-stop sequencer proves, and the proof (docs/architecture.md)."""

from __future__ import annotations

from dataclasses import dataclass

from prophex.engine.state import State, check_invariants, digest
from prophex.errors import WriteUnavailable
from prophex.ledger.store import Store


@dataclass(frozen=True, slots=True)
class Recovery:
    """The stored head the sequencer reloaded and verified, and the digest of the state it
    writes from again."""

    block_height: int
    last_hash: str
    command_seq: int
    digest: str


def load_verified(store: Store) -> tuple[State, tuple[int, str, int]]:
    """The stored state at the journal's head, proved, and that head (height, hash, command).

    In one read transaction: the writer fence is still this store's, the last snapshot is
    loaded and the journal after it replayed and verified against the stored hash chain up to
    the journal's head (:meth:`Store.load_state` raises
    :class:`~prophex.errors.JournalMismatch` otherwise), and the state's command counter is the
    head's. Then a second, independent load must give the same digest and the invariants must
    hold on the state."""
    with store.engine.connect() as conn:
        store.check_fence(conn)
        state = store.load_state(conn)
        head = store.stored_head(conn)
        conn.rollback()
    if head[2] != state.command_seq:
        raise WriteUnavailable(
            f"the loaded state is at command {state.command_seq} but the journal's head is "
            f"{head}; not writing",
            journal=list(head),
        )
    again = store.load_state()
    if digest(again) != digest(state):
        raise WriteUnavailable("two loads of the stored state differ; not writing")
    problems = check_invariants(state)
    if problems:
        raise WriteUnavailable(f"the stored state violates an invariant: {problems[0]}")
    return state, head
