"""Typed errors of the margin engine.

The engine is a library used by the exchange, the CLI and tests; each of them needs to tell
*which* input was wrong without parsing prose. Every failure therefore carries a stable
machine-readable ``code`` and the dotted path of the offending ``field``.
"""

from __future__ import annotations

INVALID_BOOK = "INVALID_BOOK"
INVALID_PARAMETER = "INVALID_PARAMETER"
INVALID_HIERARCHY = "INVALID_HIERARCHY"
UNKNOWN_UNDERLYING = "UNKNOWN_UNDERLYING"
UNKNOWN_CLUSTER = "UNKNOWN_CLUSTER"
UNKNOWN_CONTRACT = "UNKNOWN_CONTRACT"


class MarginError(ValueError):
    """A rejected margin input: a book, a hierarchy or a parameter.

    Subclassing ``ValueError`` keeps the engine self-contained (the exchange core has its
    own hierarchy) while letting generic callers catch it as bad input.
    """

    def __init__(self, code: str, field: str, message: str) -> None:
        self.code = code
        self.field = field
        self.message = message
        super().__init__(f"{code}: {field}: {message}")
