"""How the SDK talks to the server: money encoding, calls, pages, and the retrying transport.

Every endpoint group (:mod:`prophex.sdk.accounts`, ``markets``, ``trading``, ``admin``)
builds a :class:`Call` and hands it to :meth:`Transport.send`; the retry and idempotency
rules are stated once, in :mod:`prophex.sdk.core`.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic, Literal, Protocol, TypeVar

import httpx
from pydantic import BaseModel

from prophex.sdk.errors import ProphexApiError

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")
Auth = Literal["none", "key", "admin"]
Money = Decimal | int | str
RETRY_STATUSES = frozenset({502, 503, 504})


def money(value: Money) -> str:
    """``value`` as the plain decimal string the API expects (``Decimal("1E+3")`` ->
    ``"1000"``). Floats and bools are refused: binary floating point is never money."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise TypeError(f"money must be Decimal, int or str, not {type(value).__name__}")
    number = Decimal(value)
    if not number.is_finite():
        raise ValueError(f"not a finite amount: {value!r}")
    text = format(number, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def clean(params: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if params is None else {k: v for k, v in params.items() if v is not None}


def paged(cursor: str | None, limit: int, **filters: Any) -> dict[str, Any]:
    return {**filters, "cursor": cursor, "limit": limit}


def problem_of(response: httpx.Response) -> ProphexApiError:
    """The :class:`ProphexApiError` of a 4xx/5xx answer (problem+json or not)."""
    try:
        body = response.json()
    except ValueError:
        body = {"code": "HTTP_ERROR", "detail": response.text[:200]}
    if not isinstance(body, dict):
        body = {"code": "HTTP_ERROR", "detail": str(body)[:200]}
    return ProphexApiError(response.status_code, body)


@dataclass(frozen=True)
class Call(Generic[M]):
    """One request: method, path, answer model, credential, body, query, whether it is safe
    to repeat, and the ``Idempotency-Key`` header it carries (if any)."""

    method: str
    path: str
    model: type[M]
    auth: Auth
    json: dict[str, Any] | None = None
    params: dict[str, Any] | None = None
    safe: bool = False
    idempotency_key: str | None = None


def read(path: str, model: type[M], auth: Auth, params: dict[str, Any] | None = None) -> Call[M]:
    return Call("GET", path, model, auth, params=clean(params), safe=True)


class Page(Protocol[T]):
    @property
    def items(self) -> list[T]: ...

    @property
    def next_cursor(self) -> str | None: ...


@dataclass(frozen=True)
class Settings:
    """What :meth:`AsyncProphexClient.with_key` carries over to the new client."""

    base_url: str
    admin_key: str | None
    timeout: float | httpx.Timeout
    retries: int
    retry_backoff: float
    retry_backoff_max: float
    id_prefix: str


class Transport:
    """The HTTP machinery every endpoint group shares: settings, the connection pool, the
    id counter, and :meth:`send` with the retry rules of :mod:`prophex.sdk.core`."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        admin_key: str | None = None,
        timeout: float | httpx.Timeout = 10.0,
        retries: int = 3,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = 100,
        retry_backoff: float = 0.05,
        retry_backoff_max: float = 2.0,
        id_prefix: str | None = None,
        _http: httpx.AsyncClient | None = None,
        _counter: itertools.count[int] | None = None,
    ) -> None:
        self.settings = Settings(
            base_url=base_url.rstrip("/"),
            admin_key=admin_key,
            timeout=timeout,
            retries=retries,
            retry_backoff=retry_backoff,
            retry_backoff_max=retry_backoff_max,
            id_prefix=id_prefix or "px" + uuid.uuid4().hex[:12],
        )
        self.api_key = api_key
        self._owns_http = _http is None
        self.http = _http or httpx.AsyncClient(
            base_url=self.settings.base_url,
            timeout=timeout,
            transport=transport,
            limits=httpx.Limits(max_connections=max_connections),
        )
        self._counter = _counter or itertools.count(1)
        self._rng = random.Random()

    def next_id(self) -> str:
        """The next generated id, ``"<id_prefix>-<n>"``."""
        return f"{self.settings.id_prefix}-{next(self._counter)}"

    # ------------------------------------------------------------ transport

    def _headers(self, call: Call[Any]) -> dict[str, str]:
        key = {"none": None, "key": self.api_key, "admin": self.settings.admin_key}[call.auth]
        headers = {} if key is None else {"Authorization": f"Bearer {key}"}
        if call.idempotency_key is not None:
            headers["Idempotency-Key"] = call.idempotency_key
        return headers

    def _delay(self, response: httpx.Response | None, attempt: int) -> float:
        retry_after = "" if response is None else str(response.headers.get("Retry-After", ""))
        if retry_after.isdigit():
            return float(retry_after)
        cap = self.settings.retry_backoff_max
        base = min(cap, self.settings.retry_backoff * (1 << attempt))
        return base * (0.5 + self._rng.random() / 2)

    async def send(self, call: Call[M]) -> M:
        """Send ``call`` with the retry rules of :mod:`prophex.sdk.core`; the parsed answer."""
        attempts = self.settings.retries + 1
        headers = self._headers(call)
        for attempt in range(attempts):
            last = attempt + 1 >= attempts
            try:
                response = await self.http.request(
                    call.method, call.path, params=call.params, json=call.json, headers=headers
                )
            except httpx.TransportError as error:
                unsent = isinstance(
                    error, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout
                )
                if last or not (call.safe or unsent):
                    raise
                await asyncio.sleep(self._delay(None, attempt))
                continue
            if response.status_code < 400:
                return call.model.model_validate_json(response.content)
            retryable = response.status_code == 429 or (
                call.safe and response.status_code in RETRY_STATUSES
            )
            if last or not retryable:
                raise problem_of(response)
            await asyncio.sleep(self._delay(response, attempt))
        raise AssertionError("unreachable")

    def _mutation(
        self,
        method: str,
        path: str,
        model: type[M],
        body: dict[str, Any] | None,
        idempotency_key: str | None,
    ) -> Call[M]:
        key = idempotency_key or self.next_id()
        return Call(method, path, model, "key", body, safe=True, idempotency_key=key)
