"""The adaptive limit's decisions, on an injected clock: growth while latency holds, cuts on
429/503 (once a round), queueing judged per route, and Retry-After pausing everyone; then the
gate that holds requests in line (retries first), driven without any real waiting."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass

import pytest

from reconcile.api.gate import Gate
from reconcile.api.limiter import AdaptiveLimit, Cut, LimiterSettings, Ticket


@dataclass
class Clock:
    now: float = 100.0

    def __call__(self) -> float:
        return self.now


def limiter(**settings: float) -> tuple[AdaptiveLimit, Clock]:
    clock = Clock()
    return AdaptiveLimit(clock, LimiterSettings(**settings)), clock  # type: ignore[arg-type]


def round_trip(limit: AdaptiveLimit, clock: Clock, latency: float, route: str = "GET /x") -> None:
    """Fills the limit, then answers every request after `latency`."""
    tickets = [limit.start(route) for _ in range(limit.limit - limit.in_flight)]
    clock.now += latency
    for ticket in tickets:
        limit.answered(ticket)


def test_slow_start_grows_by_half_or_more_each_round_up_to_the_maximum() -> None:
    limit, clock = limiter(initial=4, maximum=64)
    seen = [limit.limit]
    for _ in range(7):
        round_trip(limit, clock, 0.05)
        seen.append(limit.limit)
    growing = [b / a for a, b in itertools.pairwise(seen) if b < 64]
    assert all(g >= 1.5 for g in growing), seen
    assert seen[-2:] == [64, 64] and limit.totals.peak == 64


def test_a_429_halves_the_limit_once_per_round_and_pauses_everyone() -> None:
    limit, clock = limiter(initial=24, maximum=64)
    tickets = [limit.start("GET /x") for _ in range(24)]
    clock.now += 0.05
    cut = limit.throttled(tickets[0], 429, 2.0)
    assert cut == Cut(429, 24, 12, 2.0)
    assert all(limit.throttled(t, 429, 2.0) is None for t in tickets[1:5])  # same round
    assert limit.limit == 12 and limit.totals.throttled == 5
    assert limit.pause_left() == pytest.approx(2.0) and not limit.has_room()
    for ticket in tickets[5:]:
        limit.failed(ticket)
    assert not limit.has_room()  # room, but the pause holds
    clock.now += 2.0
    assert limit.has_room()
    later = limit.start("GET /x")
    assert limit.throttled(later, 503, None) == Cut(503, 12, 6, 0.0)
    assert limit.totals.overloaded == 1


def test_after_a_cut_it_grows_by_one_per_round() -> None:
    limit, clock = limiter(initial=8, maximum=64)
    limit.throttled(limit.start("GET /x"), 429, None)
    assert limit.limit == 4 and not limit.slow_start
    for expected in (5, 6, 7):
        round_trip(limit, clock, 0.05)
        assert limit.limit == expected


def test_it_never_goes_below_the_minimum() -> None:
    limit, _clock = limiter(initial=1, minimum=1)
    for _ in range(5):
        limit.throttled(limit.start("GET /x"), 429, None)
    assert limit.limit == 1


def test_an_unused_limit_does_not_grow() -> None:
    limit, clock = limiter(initial=16)
    for _ in range(50):
        ticket = limit.start("GET /x")
        clock.now += 0.05
        limit.answered(ticket)
    assert limit.limit == 16


def test_growing_latency_shrinks_the_limit() -> None:
    limit, clock = limiter(initial=16, maximum=64)
    round_trip(limit, clock, 0.01)
    high = limit.limit
    for _ in range(4):
        round_trip(limit, clock, 0.2)  # 20x the best this route has seen: queueing
    assert limit.limit < high
    assert not limit.slow_start


def test_latency_is_judged_per_route() -> None:
    limit, clock = limiter(initial=4, maximum=64)
    for _ in range(4):
        round_trip(limit, clock, 0.001, "GET /v1/devboxes/disk_snapshots/{id}/status")
        round_trip(limit, clock, 0.3, "GET /v1/devboxes")  # a big list is slow, not a queue
    assert limit.limit == 64 and limit.slow_start


def test_failures_without_answer_teach_nothing() -> None:
    limit, _clock = limiter(initial=8)
    ticket = limit.start("GET /x")
    limit.failed(ticket)
    assert limit.limit == 8 and limit.in_flight == 0


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="minimum"):
        LimiterSettings(initial=100, maximum=10)
    with pytest.raises(ValueError, match="cuts"):
        LimiterSettings(throttle_cut=1.5)


class FakeSleep:
    """Sleeping advances the clock and yields once; nothing really waits."""

    def __init__(self, clock: Clock) -> None:
        self.clock, self.slept = clock, list[float]()

    async def __call__(self, seconds: float) -> None:
        self.clock.now += seconds
        self.slept.append(seconds)
        await asyncio.sleep(0)


def gate_for(initial: int) -> tuple[Gate, Clock, FakeSleep]:
    clock = Clock()
    sleep = FakeSleep(clock)
    limit = AdaptiveLimit(clock, LimiterSettings(initial=initial, minimum=1, maximum=initial))
    return Gate(limit, sleep), clock, sleep


def test_gate_keeps_requests_within_the_limit_and_serves_in_order() -> None:
    async def scenario() -> list[str]:
        gate, _clock, _ = gate_for(2)
        order: list[str] = []
        release = asyncio.Event()

        async def request(name: str) -> None:
            async with gate.admit("GET /x") as admission:
                order.append(name)
                assert gate.limit.in_flight <= 2
                await release.wait()
                admission.answered()

        tasks = [asyncio.create_task(request(f"r{n}")) for n in range(5)]
        for _ in range(5):
            await asyncio.sleep(0)
        assert order == ["r0", "r1"]
        release.set()
        await asyncio.gather(*tasks)
        return order

    assert asyncio.run(scenario()) == ["r0", "r1", "r2", "r3", "r4"]


def test_gate_lets_retries_go_before_first_attempts_and_waits_out_a_pause() -> None:
    async def scenario() -> list[tuple[str, float]]:
        gate, clock, _sleep = gate_for(1)
        order: list[tuple[str, float]] = []
        first = asyncio.Event()

        async def hold_then_throttle() -> None:
            async with gate.admit("GET /x") as admission:
                await first.wait()
                admission.throttled(429, 3.0)

        async def request(name: str, retry: bool) -> None:
            async with gate.admit("GET /x", attempt=2 if retry else 1) as admission:
                order.append((name, clock.now - start))
                admission.answered()

        start = clock.now
        holder = asyncio.create_task(hold_then_throttle())
        await asyncio.sleep(0)
        fresh = asyncio.create_task(request("fresh", False))
        await asyncio.sleep(0)
        retried = asyncio.create_task(request("retry", True))
        await asyncio.sleep(0)
        first.set()
        await asyncio.gather(holder, fresh, retried)
        return order

    order = asyncio.run(scenario())
    # Nobody started before Retry-After had passed, the retry first; then starts are spaced
    # by the Retry-After (at most max_spacing, 1 s) while the API throttles.
    assert order == [("retry", pytest.approx(3.0)), ("fresh", pytest.approx(4.0))]


def test_a_429_spaces_starts_apart_until_answers_wear_the_spacing_off() -> None:
    limit, clock = limiter(initial=4, maximum=64)
    limit.throttled(limit.start("GET /x"), 429, 0.05)
    assert limit.spacing == pytest.approx(0.05)
    clock.now += 0.05
    ticket = limit.start("GET /x")
    assert limit.pause_left() == pytest.approx(0.05) and not limit.has_room()
    clock.now += 0.05
    limit.answered(ticket)
    assert limit.spacing == pytest.approx(0.049)
    for _ in range(400):
        clock.now += 0.05
        limit.answered(limit.start("GET /x"))
    assert limit.spacing == 0.0


def test_long_polls_give_their_place_back_once_sent_but_wait_out_a_pause() -> None:
    async def scenario() -> float:
        gate, clock, _ = gate_for(1)
        async with gate.admit("POST /wait", long_poll=True) as poll:
            async with gate.admit("GET /x") as busy:  # the held long-poll takes no place
                busy.throttled(429, 5.0)
            poll.answered()
        start = clock.now
        async with gate.admit("POST /wait", long_poll=True) as poll:
            poll.answered()
        return clock.now - start

    assert asyncio.run(scenario()) == pytest.approx(5.0)


def test_a_cancelled_waiter_gives_its_turn_on() -> None:
    async def scenario() -> int:
        gate, _clock, _ = gate_for(1)
        holder_done = asyncio.Event()

        async def holder() -> None:
            async with gate.admit("GET /x") as admission:
                await holder_done.wait()
                admission.answered()

        async def request() -> None:
            async with gate.admit("GET /x") as admission:
                admission.answered()

        first = asyncio.create_task(holder())
        await asyncio.sleep(0)
        doomed = asyncio.create_task(request())
        last = asyncio.create_task(request())
        await asyncio.sleep(0)
        holder_done.set()
        doomed.cancel()
        await asyncio.gather(first, last)
        await asyncio.gather(doomed, return_exceptions=True)
        return gate.limit.in_flight

    assert asyncio.run(scenario()) == 0


def test_tickets_are_numbered_in_the_order_sent() -> None:
    limit, _clock = limiter()
    assert [limit.start("r").seq for _ in range(3)] == [1, 2, 3]
    assert isinstance(Ticket(1, "r", 0.0), Ticket)


def test_a_429_after_steady_answers_spaces_starts_at_the_pace_the_api_let_through() -> None:
    # 20 answered a second for 2 s, then a 429 whose Retry-After (5 ms) only says when the next
    # token comes: the spacing is the measured pace (50 ms), not the Retry-After.
    limit, clock = limiter(initial=4, maximum=64)
    for _ in range(40):
        ticket = limit.start("GET /x")
        clock.now += 0.05
        limit.answered(ticket)
    limit.throttled(limit.start("GET /x"), 429, 0.005)
    assert limit.spacing == pytest.approx(2.0 / 40, rel=0.05)


def test_without_enough_recent_starts_a_429_spaces_by_its_retry_after() -> None:
    limit, clock = limiter(initial=4, maximum=64)
    clock.now += 10.0
    limit.throttled(limit.start("GET /x"), 429, 0.2)
    assert limit.spacing == pytest.approx(0.2)
