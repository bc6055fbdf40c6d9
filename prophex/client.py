"""Compatibility shim: the SDK lives in :mod:`prophex.sdk`."""

from prophex.sdk import (
    AccountStream,
    AsyncProphexClient,
    MarketStream,
    ProphexApiError,
    ProphexClient,
    StreamProtocolError,
    StreamUnavailable,
)

__all__ = [
    "AccountStream",
    "AsyncProphexClient",
    "MarketStream",
    "ProphexApiError",
    "ProphexClient",
    "StreamProtocolError",
    "StreamUnavailable",
]
