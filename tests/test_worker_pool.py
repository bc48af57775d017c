"""The extraction worker pool survives a worker that dies: the crawl goes on."""

import asyncio
import os

from crawler.pipelines import _SharedPool, run_in_pool


def test_a_dead_worker_is_replaced_and_later_pages_still_run(settings):
    s = settings.replace(extract_workers=1)
    _SharedPool.acquire()
    try:
        async def scenario():
            try:
                await run_in_pool(s, os._exit, 1)  # the worker dies, twice
            except Exception as exc:  # noqa: BLE001 - the page that kills its worker is reported
                died = type(exc).__name__
            else:
                died = None
            return died, await run_in_pool(s, pow, 2, 10)

        died, answer = asyncio.run(scenario())
        assert died == "BrokenProcessPool"
        assert answer == 1024
    finally:
        _SharedPool.release()
