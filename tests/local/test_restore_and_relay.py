"""A restored environment's REPORT line and the streaming relay's hand-over, without processes."""

from __future__ import annotations

import asyncio

from lamina.local.model import log_lines
from lamina.local.runtime_api.relay import StreamRelay


def test_report_of_a_restored_environment_shows_restore_not_init_duration_and_bills_it() -> None:
    line = log_lines.report(log_lines.Report("r", 306.34, 3009, 155, restore_duration_ms=302.25))
    # as Lambda logs it: Billed Duration covers the invocation and the billed restore
    assert line == ("REPORT RequestId: r\tDuration: 306.34 ms\tBilled Duration: 610 ms\t"
                    "Memory Size: 3009 MB\tMax Memory Used: 155 MB\t"
                    "Restore Duration: 302.25 ms\tBilled Restore Duration: 303 ms\t")


def test_relay_holds_a_bounded_window_and_releases_the_producer_as_the_caller_reads() -> None:
    async def scenario() -> tuple[list[bytes], bool]:
        relay = StreamRelay(limit=100, window=2)
        relay.begin("text/plain")

        async def produce() -> None:
            for n in range(5):
                assert await relay.put(b"%d" % n)
            relay.end()

        producer = asyncio.ensure_future(produce())
        await asyncio.sleep(0)
        blocked = not producer.done() and len(relay._chunks) == 2
        received = [chunk async for chunk in relay.chunks()]
        await producer
        return received, blocked

    received, blocked = asyncio.run(scenario())
    assert received == [b"0", b"1", b"2", b"3", b"4"]
    assert blocked  # the producer waited once the window was full


def test_relay_past_its_limit_ends_and_refuses_more() -> None:
    async def scenario() -> tuple[bool, bool, list[bytes]]:
        relay = StreamRelay(limit=4)
        first = await relay.put(b"abc")
        second = await relay.put(b"de")
        return first, second, [chunk async for chunk in relay.chunks()]

    first, second, received = asyncio.run(scenario())
    assert (first, second, received) == (True, False, [b"abc"])


def test_an_abandoned_relay_never_blocks_the_producer() -> None:
    async def scenario() -> bool:
        relay = StreamRelay(limit=1000, window=1)
        relay.abandon()
        return all([await relay.put(b"x") for _ in range(10)])

    assert asyncio.run(scenario())
