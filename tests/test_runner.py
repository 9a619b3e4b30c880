"""What comes due with time runs whether or not the city sends clients messages: with notifications off (no planner,
no delivery worker) referrals nobody answered still expire and partners' systems are still called; a job that
fails is tried again at the next round without stopping the others."""

from __future__ import annotations

import asyncio

from notify.runner import run


async def test_expiry_and_webhook_calls_run_with_no_planner_nor_worker_and_a_failing_round_stops_nothing() -> None:
    calls = {"expire": 0, "webhooks": 0}
    stop = asyncio.Event()

    async def expire() -> int:
        calls["expire"] += 1
        return 0

    async def webhooks() -> int:
        calls["webhooks"] += 1
        if calls["webhooks"] == 1:
            raise ConnectionError("the store is down for one round")
        if calls["webhooks"] >= 3 and calls["expire"] >= 2:
            stop.set()
        return 1

    await asyncio.wait_for(run(None, None, plan_every=0.02, stop=stop, also=[expire], often=[webhooks],
                               poll_every=0.01), timeout=10)
    assert calls["expire"] >= 2 and calls["webhooks"] >= 3
