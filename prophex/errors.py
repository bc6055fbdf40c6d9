"""Typed errors with stable machine-readable codes.

Every rejection the engine can make is one of these. The ``code`` is part of the public
contract (the API puts it in problem+json, bots switch on it), so codes are never renamed.
``details`` names the failing check with the numbers behind it (required vs available, the cap
and the headroom), because "not enough balance" without saying which check failed is one of
the complaints users have of real venues.
"""

from __future__ import annotations

from typing import Any, ClassVar


class ProphexError(Exception):
    """Base of every expected, typed rejection. Carries a stable ``code`` and an HTTP status."""

    code: ClassVar[str] = "PROPHEX_ERROR"
    status: ClassVar[int] = 400
    title: ClassVar[str] = "Request rejected"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.details}


class InvalidAmount(ProphexError):
    code = "INVALID_AMOUNT"
    status = 422
    title = "Invalid amount"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message, field=field)


class InvalidCommand(ProphexError):
    code = "INVALID_COMMAND"
    status = 422
    title = "Invalid command"


class InvalidParameters(ProphexError):
    code = "INVALID_PARAMETERS"
    status = 422
    title = "Invalid protocol parameters"


class LeverageTooHigh(ProphexError):
    code = "LEVERAGE_TOO_HIGH"
    status = 422
    title = "Leverage out of range"


class InsufficientBalance(ProphexError):
    code = "INSUFFICIENT_BALANCE"
    status = 409
    title = "Insufficient balance"


class AccountNotFlat(ProphexError):
    code = "ACCOUNT_NOT_FLAT"
    status = 409
    title = "Account has open positions"


class WalletCapExceeded(ProphexError):
    code = "WALLET_CAP_EXCEEDED"
    status = 409
    title = "Wallet open-interest cap exceeded"


class MarketOiCapExceeded(ProphexError):
    code = "MARKET_OI_CAP_EXCEEDED"
    status = 409
    title = "Market open-interest cap exceeded"


class CoverageCapExceeded(ProphexError):
    code = "COVERAGE_CAP_EXCEEDED"
    status = 409
    title = "Insurance fund could not cover the worst-case resolution shortfall"


class MarketNotOpen(ProphexError):
    code = "MARKET_NOT_OPEN"
    status = 409
    title = "Market is not open for this action"


class SlippageExceeded(ProphexError):
    code = "SLIPPAGE_EXCEEDED"
    status = 409
    title = "Average price worse than the order's bound"


class CloseTooLarge(ProphexError):
    code = "CLOSE_EXCEEDS_POSITION"
    status = 409
    title = "Close larger than the position"


class NotFound(ProphexError):
    code = "NOT_FOUND"
    status = 404
    title = "Not found"


class AlreadyExists(ProphexError):
    code = "ALREADY_EXISTS"
    status = 409
    title = "Already exists"


class DuplicateClientOrderId(ProphexError):
    code = "DUPLICATE_CLIENT_ORDER_ID"
    status = 409
    title = "client_order_id reused with a different request"


class ClockError(ProphexError):
    code = "CLOCK_ERROR"
    status = 422
    title = "Simulated clock cannot move backwards"


class PositionTooSmall(ProphexError):
    code = "POSITION_TOO_SMALL"
    status = 422
    title = "Order too small"


class SequencerLocked(ProphexError):
    code = "SEQUENCER_LOCKED"
    status = 503
    title = "Another sequencer holds the write lock"


class AmountLimitExceeded(ProphexError):
    """A command would push a stored integer past the documented bound (docs/architecture.md,
    "Limits"); it is rejected alone and nothing is written."""

    code = "AMOUNT_LIMIT_EXCEEDED"
    status = 422
    title = "Amount limit exceeded"

    def __init__(self, message: str, *, field: str, limit: int, **details: Any) -> None:
        super().__init__(message, field=field, limit=limit, **details)


class StorageRejected(ProphexError):
    """The database refused to store this command's result (a data error such as an integer
    out of range). The command was taken out of its block and nothing of it was written; the
    other commands of the block were committed without it."""

    code = "STORAGE_REJECTED"
    status = 422
    title = "The database refused to store this command's result"


class WriteUnavailable(ProphexError):
    """The writer could not commit, or is recovering from a failed commit: nothing of this
    command was written. Retry later."""

    code = "WRITE_UNAVAILABLE"
    status = 503
    title = "The block could not be committed; nothing was written"


class WriterFenced(ProphexError):
    """Another sequencer took over the database (a newer writer epoch). This one never writes
    again; restart it once the other one has stopped."""

    code = "WRITER_FENCED"
    status = 503
    title = "Another sequencer took over this database"


class JournalMismatch(ProphexError):
    """A load found the stored state and the journal disagreeing: the state tables (the last
    snapshot) do not match the journal at their block, or the journal after it does not replay
    to the same transactions and head. Nothing is loaded; audit the database."""

    code = "JOURNAL_MISMATCH"
    status = 500
    title = "The stored state does not match the journal"


class InvariantViolation(ProphexError):
    """A bug, not a user error: a ledger invariant would break. The writer stops (fail-stop)."""

    code = "INVARIANT_VIOLATION"
    status = 500
    title = "Internal invariant violated"


class DatabaseMissing(ProphexError):
    """A read-only tool (audit) was pointed at a database that does not exist or holds no
    Prophex exchange."""

    code = "DATABASE_MISSING"
    status = 404
    title = "No Prophex database at this URL"


class DatabaseUnavailable(ProphexError):
    """The database cannot be opened for writing (it does not exist, the server refuses the
    connection, the directory is missing)."""

    code = "DATABASE_UNAVAILABLE"
    status = 503
    title = "The database cannot be opened"


class AuditFailed(ProphexError):
    code = "AUDIT_FAILED"
    status = 500
    title = "Audit found violations"


ALL_ERRORS: tuple[type[ProphexError], ...] = (
    InvalidAmount,
    InvalidCommand,
    InvalidParameters,
    LeverageTooHigh,
    InsufficientBalance,
    WalletCapExceeded,
    MarketOiCapExceeded,
    CoverageCapExceeded,
    MarketNotOpen,
    SlippageExceeded,
    CloseTooLarge,
    NotFound,
    AlreadyExists,
    DuplicateClientOrderId,
    ClockError,
    PositionTooSmall,
    SequencerLocked,
    AmountLimitExceeded,
    StorageRejected,
    WriteUnavailable,
    WriterFenced,
    JournalMismatch,
    InvariantViolation,
    DatabaseMissing,
    DatabaseUnavailable,
    AuditFailed,
)
