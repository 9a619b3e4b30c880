"""The planner and a delivery worker, run together until stopped (`casebridge notify run`, or in the gateway);
with each planning pass, the other things that come due with time (referrals nobody answered expire), and webhook
calls as often as messages. A city that sends clients no messages (notifications off) runs no planner nor worker,
and its referrals still expire and its partners' systems are still called."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence

from notify.planner import ReminderPlanner
from notify.worker import DeliveryWorker

log = logging.getLogger("casebridge.notify")
RETRY = 10  # seconds before a failed planning pass is tried again


async def run(planner: ReminderPlanner | None, worker: DeliveryWorker | None, *, plan_every: float,
              stop: asyncio.Event,
              also: Sequence[Callable[[], Awaitable[int]]] = (),
              often: Sequence[Callable[[], Awaitable[int]]] = (), poll_every: float = 2.0) -> None:
    """Plan reminders every `plan_every` seconds (and run each of `also` then), deliver what is due, and run each
    of `often` every `poll_every` seconds (webhook calls), until `stop` is set."""
    async def polling() -> None:
        while not stop.is_set():
            for job in often:
                try:
                    await job()
                except Exception as exc:  # the store is down: nothing is lost; the next round tries again
                    log.error("a delivery round failed (%s)", type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=poll_every)

    async def planning() -> None:
        while not stop.is_set():
            wait = plan_every
            try:
                for job in also:  # first: what they change (an expired referral) is told in the same pass
                    await job()
                if planner is not None:
                    added, cancelled = await planner.plan()
                    if added or cancelled:
                        log.info("reminders planned: %d queued, %d cancelled", added, cancelled)
            except Exception as exc:  # an agency or the store is down: nothing is lost; plan again soon
                log.error("planning reminders failed (%s); trying again in %d s", type(exc).__name__, RETRY)
                wait = min(plan_every, RETRY)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=wait)

    await asyncio.gather(planning(), polling(), *([worker.run(stop)] if worker is not None else []))
