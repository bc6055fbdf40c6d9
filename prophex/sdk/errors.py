"""Errors raised by the SDK. Every one says what failed and carries the figures to act on."""

from __future__ import annotations

from typing import Any


class ProphexError(Exception):
    """Base of every SDK error."""


class ProphexApiError(ProphexError):
    """A problem+json answer (RFC 9457): ``status``, the stable ``code``, ``detail`` and the
    whole ``problem`` document (the failing check's figures: ``required``/``available``,
    ``cap``/``headroom``, ``required_scope``, ``field``...)."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        self.code = str(problem.get("code", "HTTP_ERROR"))
        self.detail = str(problem.get("detail", ""))
        super().__init__(f"{status} {self.code}: {self.detail}")


class StreamError(ProphexError):
    """Base of the stream errors."""


class StreamProtocolError(StreamError):
    """The server sent something the protocol does not allow (a frame that is not a JSON
    object, an ``error`` message, a sequence number going backwards inside a replay), or
    refused the session (close codes 4001/4003: bad or unauthorised key). Never retried:
    reconnecting would fail the same way."""

    def __init__(self, code: str, detail: str, message: dict[str, Any] | None = None) -> None:
        self.code = code
        self.detail = detail
        self.message = message
        super().__init__(f"{code}: {detail}")


class StreamUnavailable(StreamError):
    """The stream could not be (re)opened after ``attempts`` consecutive tries with backoff;
    ``last_error`` is the failure of the final try."""

    def __init__(self, attempts: int, last_error: BaseException | None) -> None:
        self.attempts = attempts
        self.last_error = last_error
        super().__init__(f"stream unavailable after {attempts} attempts: {last_error!r}")
