"""Sends one logical API call with retries, counting and error translation; knows no endpoints.

Every attempt goes through the run's gate (gate.py): it waits for a place under the adaptive
limit and reports how it ended (a 429/503 cuts the limit, a `Retry-After` pauses every request).

Every attempt of a call carries the same `x-request-id`, so a server that dedupes on it can
make retried POSTs safe. The API key lives only here, is added per request, and is never
part of a message, log line or repr.
"""

from __future__ import annotations

import json
import logging
import random
import ssl
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from reconcile.api.failures import Failure, retry_after_seconds, translate_failure
from reconcile.api.gate import Gate, OnCut
from reconcile.api.limiter import AdaptiveLimit, LimiterSettings
from reconcile.api.pool import Shards
from reconcile.api.retry import (
    RetryEvent,
    RetryPolicy,
    describe_exception,
    describe_response,
    should_retry_exception,
    should_retry_response,
)
from reconcile.api.servertime import ApiClock
from reconcile.api.wire import WirePool, encode_body, usable_for
from reconcile.api.writegate import before_write
from reconcile.errors import ConfigError, RlstateError

Sleep = Callable[[float], Awaitable[None]]
OnRetry = Callable[[RetryEvent], None]
ModelT = TypeVar("ModelT", bound=BaseModel)

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0, pool=None)
USER_AGENT = "rlstate/0.1"
# Requests in flight at most (the adaptive limit's ceiling); the pool also keeps room for the
# long-polls of up to LONG_POLL_CONNECTIONS actions, which the server holds open.
MAX_CONNECTIONS = 64
LONG_POLL_CONNECTIONS = 100
THROTTLED = frozenset({429, 503})
_log = logging.getLogger("reconcile.api")


def _verify_for(base_url: str) -> bool:
    """TLS verification for https APIs; none to set up for a plain-http one (the local backend).

    Loading the CA bundle costs 50-200 ms per client. A plain-http API gives no transport
    security, so the https URLs it might hand out would gain nothing from verification either.
    """
    return base_url.startswith("https://")


@dataclass
class RequestStats:
    """Requests sent, by "METHOD /route/{template}", retries and long-poll rounds included."""

    total: int = 0
    by_route: dict[str, int] = field(default_factory=dict)

    def record(self, key: str) -> None:
        self.total += 1
        self.by_route[key] = self.by_route.get(key, 0) + 1

    def reset(self) -> None:
        self.total = 0
        self.by_route.clear()


@dataclass(frozen=True)
class Call:
    """One logical call: route template (for counting) plus what fills it in."""

    method: str
    route: str
    path_args: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, str] | None = None
    body: Any = None
    request_id: str | None = None
    timeout: httpx.Timeout | None = None
    long_poll: bool = False
    url: str | None = None
    content: bytes | None = None
    headers: Mapping[str, str] | None = None
    retry: RetryPolicy | None = None

    @property
    def key(self) -> str:
        return f"{self.method} {self.route}"

    def target(self) -> str:
        """The URL to send to: the presigned `url`, else the route with quoted arguments."""
        if self.url is not None:
            return self.url
        return self.route.format(**{k: quote(v, safe="") for k, v in self.path_args.items()})

    def path(self) -> str:
        """The URL path for messages: never the host, query or fragment (signed URLs hide
        their tokens in the query)."""
        target = self.target()
        if self.url is None:
            return target
        try:
            return httpx.URL(target).path
        except httpx.InvalidURL:
            return "(an invalid URL)"


class _Secret:
    """Holds the API key so that no repr, log or traceback local shows it."""

    __slots__ = ("_value",)

    def __init__(self, value: str | None) -> None:
        self._value = value

    def get(self) -> str | None:
        return self._value

    def __repr__(self) -> str:
        return "<secret>" if self._value else "<none>"


class HttpCore:
    """An httpx.AsyncClient plus the retry loop; shared by all endpoint methods."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        *,
        retry: RetryPolicy,
        max_connections: int,
        transport: httpx.AsyncBaseTransport | None,
        on_retry: OnRetry | None,
        sleep: Sleep,
        clock: Callable[[], float],
        rand: Callable[[], float] = random.random,
        limit: AdaptiveLimit | None = None,
        on_cut: OnCut | None = None,
        lean: bool = False,
    ) -> None:
        _check_key(api_key)
        self.base_url = _check_base_url(base_url)
        self.retry = retry
        self.stats = RequestStats()
        self.api_clock = ApiClock()
        self.sleep = sleep
        self.clock = clock
        self._key = _Secret(api_key)
        self._on_retry = on_retry
        self._rand = rand
        cap = max(1, min(max_connections, MAX_CONNECTIONS))
        if limit is None:
            initial = min(LimiterSettings.initial, cap)
            limit = AdaptiveLimit(clock, LimiterSettings(initial=initial, maximum=cap))
        self.limit = limit
        self.gate = Gate(limit, sleep, on_cut)
        verify: bool | ssl.SSLContext = False
        if _verify_for(self.base_url):
            verify = ssl.create_default_context()  # one CA load for every shard

        def build(size: int) -> httpx.AsyncClient:
            return httpx.AsyncClient(
                base_url=self.base_url,
                transport=transport,
                verify=verify,
                limits=httpx.Limits(max_connections=size, max_keepalive_connections=size),
                timeout=DEFAULT_TIMEOUT,
                follow_redirects=False,
                headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            )

        self.shards = Shards(limit.settings.maximum + LONG_POLL_CONNECTIONS, build)
        self.wire: WirePool | None = None
        if lean and usable_for(self.base_url, transport):
            tls = verify if isinstance(verify, ssl.SSLContext) else None
            self.wire = WirePool(self.base_url, tls, limit.settings.maximum + LONG_POLL_CONNECTIONS)

    def __repr__(self) -> str:
        return f"HttpCore(base_url={self.base_url!r})"

    async def aclose(self) -> None:
        self.gate.close()
        if self.wire is not None:
            await self.wire.aclose()
        await self.shards.aclose()

    async def send(self, call: Call) -> httpx.Response:
        """The first successful (2xx) answer to `call`, retrying as the policy allows."""
        request_id = call.request_id or str(uuid.uuid4())
        policy = call.retry or self.retry
        attempt = 0
        while True:
            attempt += 1
            before_write(call.method)  # a run that lost its stack lock stops here
            self.stats.record(call.key)
            try:
                response = await self._attempt(call, request_id, policy, attempt)
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                if (
                    isinstance(exc, httpx.InvalidURL)
                    or attempt >= policy.max_attempts
                    or not should_retry_exception(exc, long_poll=call.long_poll)
                ):
                    raise self._error(exc, call, attempt) from None
                delay = policy.delay(attempt, None, self._rand)
                reason, status = describe_exception(exc), None
            else:
                if call.url is None:  # the API's own answer (not a storage URL's)
                    self.api_clock.observe(response.headers.get("date"))
                if response.is_success:
                    return response
                if attempt >= policy.max_attempts or not should_retry_response(
                    response, long_poll=call.long_poll
                ):
                    raise self._error(response, call, attempt)
                delay = policy.delay(attempt, retry_after_seconds(response.headers), self._rand)
                reason, status = describe_response(response), response.status_code
            # A throttled answer's Retry-After pauses the whole gate, which holds the retry too.
            held = status in THROTTLED and self.limit.pause_left() > 0
            await self.pause(call, attempt, delay, reason, status, request_id, sleep=not held)

    async def _attempt(
        self, call: Call, request_id: str, policy: RetryPolicy, attempt: int
    ) -> httpx.Response:
        """One attempt, sent when the gate lets it; its answer is what the limit learns from."""
        async with self.gate.admit(
            call.key, attempt=attempt, long_poll=call.long_poll
        ) as admission:
            response = await self._exchange(call, request_id)
            if response.status_code in THROTTLED:
                wait = retry_after_seconds(response.headers)
                admission.throttled(
                    response.status_code,
                    None if wait is None else min(wait, policy.max_retry_after),
                )
            else:
                admission.answered()
            return response

    async def _exchange(self, call: Call, request_id: str) -> httpx.Response:
        """Sends one attempt: the API's own requests over the lean client, others over httpx."""
        if self.wire is not None and call.url is None and call.content is None:
            headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
            headers.update(self._headers(call, request_id))
            return await self.wire.send(
                call.method,
                call.target(),
                headers,
                params=call.params,
                body=None if call.body is None else encode_body(call.body),
                timeout=call.timeout or DEFAULT_TIMEOUT,
            )
        shard = self.shards.take()
        try:
            client = self.shards.clients[shard]
            return await client.send(self._build(client, call, request_id))
        finally:
            self.shards.give(shard)

    async def pause(
        self,
        call: Call,
        attempt: int,
        delay: float,
        reason: str,
        status: int | None,
        request_id: str,
        *,
        sleep: bool = True,
    ) -> None:
        """Reports a retry (log line, on_retry callback), then sleeps `delay` seconds (unless
        the gate does the waiting)."""
        event = RetryEvent(
            method=call.method,
            route=call.route,
            path=call.path(),
            attempt=attempt,
            max_attempts=(call.retry or self.retry).max_attempts,
            delay=delay,
            reason=reason,
            status=status,
            request_id=request_id,
        )
        _log.info("%s %s: %s", call.method, event.path, event)
        if self._on_retry is not None:
            self._on_retry(event)
        if sleep:
            await self.sleep(delay)

    def _headers(self, call: Call, request_id: str) -> dict[str, str]:
        headers: dict[str, str] = dict(call.headers or {})
        if call.url is None:
            headers["x-request-id"] = request_id
            key = self._key.get()
            if key:
                headers["Authorization"] = f"Bearer {key}"
        return headers

    def _build(self, client: httpx.AsyncClient, call: Call, request_id: str) -> httpx.Request:
        return client.build_request(
            call.method,
            call.target(),
            params=call.params,
            json=call.body,
            content=call.content,
            headers=self._headers(call, request_id),
            timeout=call.timeout or DEFAULT_TIMEOUT,
        )

    def _error(self, failure: Failure, call: Call, attempt: int) -> RlstateError:
        return translate_failure(
            failure,
            method=call.method,
            path=call.path(),
            secret=self._key.get(),
            attempts=attempt,
        )

    async def send_json(self, call: Call) -> Any:
        """The decoded JSON body of the answer to `call`."""
        response = await self.send(call)
        try:
            return json.loads(response.content) if response.content else None
        except ValueError as exc:
            raise self._error(exc, call, 1) from None

    async def send_model(self, call: Call, model: type[ModelT]) -> ModelT:
        """The answer to `call`, parsed as `model`."""
        body = await self.send_json(call)
        return self.parse(body, model, call)

    def parse(self, body: Any, model: type[ModelT], call: Call) -> ModelT:
        try:
            return model.model_validate(body)
        except ValidationError as exc:
            raise self._error(exc, call, 1) from None


def _check_key(api_key: str | None) -> None:
    if api_key is not None and not all(0x21 <= ord(ch) <= 0x7E for ch in api_key):
        raise ConfigError("the API key has characters that cannot be sent in an HTTP header")


def _check_base_url(base_url: str) -> str:
    try:
        url = httpx.URL(base_url)
    except httpx.InvalidURL as exc:
        raise ConfigError(f"the API URL is not a valid URL: {exc}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ConfigError(
            f"the API URL must start with http:// or https:// and name a host, not {base_url!r}"
        )
    return str(url.copy_with(query=None, fragment=None)).rstrip("/")
