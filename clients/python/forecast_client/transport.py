"""HTTP to the service: the API key, timeouts, and retries with backoff where they are safe.

Retried: 429 and 503 (the service refused before doing anything: uvicorn's connection limit,
a queue that cannot be reached) and connections that could not be made. A request that may
have reached the service is retried only when repeating it is harmless (GET, DELETE). Never a
4xx: the same request would fail the same way. tenacity does the backoff: exponential with
jitter, and at least what a `Retry-After` header asks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from forecast_client.errors import ConnectionFailedError, error_from_response

RETRY_STATUSES = frozenset({429, 503})
IDEMPOTENT = frozenset({"GET", "HEAD", "DELETE", "OPTIONS"})
NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout)  # the service saw nothing
MAX_RETRY_AFTER = 60.0  # seconds; a longer Retry-After is capped, not obeyed blindly

RetryHook = Callable[[str], None]


class _Refused(Exception):
    """A 429 or 503, raised inside the retry loop so tenacity sees it."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def _retryable(method: str) -> Callable[[BaseException], bool]:
    def decide(error: BaseException) -> bool:
        if isinstance(error, (_Refused, *NEVER_SENT)):
            return True
        return method in IDEMPOTENT and isinstance(error, httpx.TransportError)

    return decide


def _describe(error: BaseException | None) -> str:
    if isinstance(error, _Refused):
        return f"HTTP {error.response.status_code}"
    return type(error).__name__ if error is not None else "unknown"


class Transport:
    """One HTTP connection pool to the service, with its key and retry policy."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        *,
        timeout: float,
        retries: int,
        backoff: float,
        on_retry: RetryHook | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.http = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout)
        self.retries, self.backoff, self.on_retry = retries, backoff, on_retry
        self._exponential = wait_exponential_jitter(multiplier=backoff, max=30.0, jitter=backoff)

    def _wait(self, state: RetryCallState) -> float:
        """Exponential backoff, but at least a 429/503's Retry-After (in seconds)."""
        seconds = float(self._exponential(state))
        error = state.outcome.exception() if state.outcome is not None else None
        if isinstance(error, _Refused):
            after = error.response.headers.get("retry-after", "")
            if after.isdigit():
                seconds = max(seconds, min(float(after), MAX_RETRY_AFTER))
        return seconds

    def _before_sleep(self, state: RetryCallState) -> None:
        if self.on_retry is not None:
            error = state.outcome.exception() if state.outcome is not None else None
            self.on_retry(f"attempt {state.attempt_number} failed ({_describe(error)}); retrying")

    def request(self, method: str, path: str, **options: Any) -> httpx.Response:
        """Send a request; ServiceError for a 4xx/5xx, ConnectionFailedError when unreachable."""
        method = method.upper()

        def attempt() -> httpx.Response:
            response = self.http.request(method, path, **options)
            if response.status_code in RETRY_STATUSES:
                raise _Refused(response)
            return response

        retrying = Retrying(
            retry=retry_if_exception(_retryable(method)),
            stop=stop_after_attempt(self.retries + 1),
            wait=self._wait,
            before_sleep=self._before_sleep,
            reraise=True,
        )
        try:
            response = retrying(attempt)
        except _Refused as refused:
            raise error_from_response(refused.response) from None
        except httpx.TransportError as error:
            raise ConnectionFailedError(
                f"cannot reach {self.http.base_url}: {error or type(error).__name__}",
                code="connection_failed",
            ) from error
        if response.is_error:
            raise error_from_response(response)
        return response

    @contextmanager
    def stream(self, path: str, *, read_timeout: float) -> Iterator[httpx.Response]:
        """A streamed GET (no retries: its callers fall back to polling)."""
        timeout = httpx.Timeout(self.http.timeout.connect, read=read_timeout)
        with self.http.stream("GET", path, timeout=timeout) as response:
            if response.is_error:
                response.read()
                raise error_from_response(response)
            yield response

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()
