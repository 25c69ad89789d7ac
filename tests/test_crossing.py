"""The thread → loop helper: calls arrive on the loop; after the loop closed they are dropped."""

from __future__ import annotations

import asyncio
import threading

from loquilex._crossing import call_in_loop


def test_a_worker_thread_reaches_the_loop_and_a_closed_loop_drops_quietly() -> None:
    async def run() -> list[str]:
        got: list[str] = []
        done = asyncio.Event()
        loop = asyncio.get_running_loop()

        def worker() -> None:
            call_in_loop(loop, got.append, threading.current_thread().name)
            call_in_loop(loop, done.set)

        threading.Thread(target=worker, name="worker-1").start()
        await asyncio.wait_for(done.wait(), 5)
        return got

    assert asyncio.run(run()) == ["worker-1"]
    closed = asyncio.new_event_loop()
    closed.close()
    call_in_loop(closed, print, "never")  # no exception: the loop is gone
