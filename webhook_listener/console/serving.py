"""Read-only queries on the published serving file (SERVING_DIR/stripe.duckdb), never the
working warehouse: off the event loop, on the console's own few threads, with a time limit.

Why a connection per page and not one kept open: publishing replaces the file by rename, and
DuckDB hands a new `connect()` of a path the database instance it already has open in this
process. A connection kept open would pin the old marts forever; one opened per page and closed
after it sees the new file as soon as the pages reading the old one finish. Opening a read-only
file costs well under a millisecond next to the queries (benchmarks/console.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import duckdb
from starlette.requests import Request

from stripe_pipeline.publish import SERVING_DB

T = TypeVar("T")
QUERY_TIMEOUT_S = 10.0
# Console queries get their own small pool, not the event loop's default executor that the
# webhook and OAuth routes use for the ops store: a slow page can wait for a console thread
# but can never take the thread a webhook delivery needs.
QUERY_THREADS = 4


class ConsoleDataError(Exception):
    """A page cannot show data; `message` says why in words a person can act on."""

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


class NoServingData(ConsoleDataError):
    """No serving file yet, or it lacks a mart the page reads."""


class QueryTimeout(ConsoleDataError):
    """The page's queries ran past the time limit and were interrupted."""


@dataclass
class ServingReader:
    path: Path
    timeout_s: float = QUERY_TIMEOUT_S
    threads: int = QUERY_THREADS
    _executor: ThreadPoolExecutor | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @classmethod
    def for_serving_dir(cls, serving_dir: Path, **kwargs: float) -> ServingReader:
        return cls(Path(serving_dir) / SERVING_DB, **kwargs)

    def executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=self.threads, thread_name_prefix="console-query"
                )
            return self._executor

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)

    def _no_file(self) -> NoServingData:
        return NoServingData(
            f"No published data yet: {self.path} does not exist. Run a sync "
            "(`stripe-pipeline sync`, or the demo) and the marts are published there."
        )

    async def run(self, job: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        """`job(connection)` on a read-only connection in a console thread. Raises NoServingData
        (no file, or a mart missing from it) or QueryTimeout (interrupted after `timeout_s`)."""
        if not self.path.is_file():
            raise self._no_file()
        opened: list[duckdb.DuckDBPyConnection] = []

        def work() -> T:
            try:
                con = duckdb.connect(str(self.path), read_only=True)
            except duckdb.IOException:
                raise self._no_file() from None
            opened.append(con)
            try:
                return job(con)
            except duckdb.CatalogException as missing:
                first = str(missing).splitlines()[0][:200]
                raise NoServingData(
                    f"The published file {self.path.name} lacks a mart this page reads ({first}). "
                    "Run a full sync so every mart is built and published again."
                ) from None
            finally:
                con.close()

        future = asyncio.get_running_loop().run_in_executor(self.executor(), work)
        try:
            return await asyncio.wait_for(future, self.timeout_s)
        except TimeoutError:
            for con in opened:
                # Thread-safe: stops the running query; the worker then closes the connection
                # (which may already have happened, hence the suppress).
                with contextlib.suppress(duckdb.Error):
                    con.interrupt()
            raise QueryTimeout(
                f"The query took longer than {self.timeout_s:g} s and was stopped. Narrow the "
                "filters (a project, a currency, a date range) and try again."
            ) from None


def reader(request: Request) -> ServingReader:
    """The app's reader of the serving file, made on first use from SERVING_DIR."""
    state = request.app.state
    if getattr(state, "console_reader", None) is None:
        state.console_reader = ServingReader.for_serving_dir(state.settings.serving_dir)
    return state.console_reader
