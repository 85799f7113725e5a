"""Print-to-PDF through one headless Chromium kept open for the process.

Starting Chromium is most of what a PDF costs (about a second, against a tenth or two of one to
print a board report in a browser already open), so the first PDF starts a browser through
Playwright and later PDFs reuse it and its one page.

Playwright's sync objects belong to the thread that made them, and starting Playwright leaves
its asyncio loop marked as running on that thread: a flow's thread that printed a PDF could no
longer call ``asyncio.run`` (Prefect's and our own clients do). So the browser lives on one
daemon thread of its own (``wardprog-pdf``); :func:`print_in_browser` hands it each PDF and
waits, from whichever thread asks. It is closed at process exit (``atexit``), on its thread.

The browser is Debian's ``chromium`` with the flags ``wardprog.reports.board`` documents, and
the print options are the ones ``chromium --headless --print-to-pdf --no-pdf-header-footer``
uses: the page's own CSS page size and margins (``@page``), backgrounds, a tagged PDF and no
browser header or footer, so the PDF renders as the subprocess's did, page for page.

When Playwright cannot start here (not installed, no driver) :func:`print_in_browser` returns
False after one log line, and the caller prints with a Chromium subprocess as before; a binary
that failed once is not tried again until :func:`close_browsers`.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")

# What ``--print-to-pdf --no-pdf-header-footer`` does, as ``page.pdf`` options (A4 is only the
# fallback: the board report's ``@page { size: A4 }`` wins, as it does for the subprocess).
PDF_OPTIONS: dict[str, Any] = {
    "format": "A4",
    "print_background": True,
    "display_header_footer": False,
    "prefer_css_page_size": True,
    "tagged": True,
}
# How long a caller waits for the printing thread beyond Playwright's own timeouts.
_GRACE_SECONDS = 30.0


@dataclass
class BrowserPrinter:
    """Playwright, its Chromium and the page every PDF is printed on (printing thread only)."""

    binary: str
    playwright: Any
    browser: Any
    page: Any
    printed: int = 0

    def close(self) -> None:
        """Close the browser and stop Playwright (best effort: the process may be exiting)."""
        for step in (self.browser.close, self.playwright.stop):
            with contextlib.suppress(Exception):  # closing must never raise at exit
                step()


class _PrintingThread:
    """One daemon thread that owns every Playwright object; callers queue work and wait."""

    def __init__(self) -> None:
        self.jobs: queue.Queue[tuple[Callable[[], Any], Future[Any]] | None] = queue.Queue()
        # Binary -> its open printer, or None when Playwright could not start it.
        self.printers: dict[str, BrowserPrinter | None] = {}
        self.launches = 0
        self.thread = threading.Thread(target=self._run, name="wardprog-pdf", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (job := self.jobs.get()) is not None:
            work, future = job
            try:
                future.set_result(work())
            except BaseException as exc:  # handed to the caller, who decides
                future.set_exception(exc)
        self.close_all()

    def call(self, work: Callable[[], T], timeout_s: float) -> T:
        future: Future[T] = Future()
        self.jobs.put((work, future))
        return future.result(timeout=timeout_s)

    def close_all(self) -> None:
        for printer in self.printers.values():
            if printer is not None:
                printer.close()
        self.printers.clear()


_lock = threading.Lock()
_worker: _PrintingThread | None = None


def _printing_thread() -> _PrintingThread:
    global _worker
    with _lock:
        if _worker is None or not _worker.thread.is_alive():
            _worker = _PrintingThread()
        return _worker


def _launch(binary: str, flags: Sequence[str], timeout_s: float) -> BrowserPrinter:
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        # Playwright runs headless itself (and adds its own --headless); the rest are ours.
        browser = playwright.chromium.launch(
            executable_path=binary,
            args=[f for f in flags if f != "--headless"],
            headless=True,
            timeout=timeout_s * 1000,
        )
        page = browser.new_page()
        page.set_default_timeout(timeout_s * 1000)
    except Exception:
        playwright.stop()
        raise
    return BrowserPrinter(binary, playwright, browser, page)


def _printer(worker: _PrintingThread, binary: str, flags: Sequence[str], timeout_s: float) -> Any:
    """The open printer for ``binary``, started on first use; None if it cannot be (on the
    printing thread)."""
    if binary in worker.printers:
        return worker.printers[binary]
    printer: BrowserPrinter | None = None
    try:
        worker.launches += 1
        printer = _launch(binary, flags, timeout_s)
    except Exception as exc:  # any failure to start: the subprocess path
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        log.warning(
            "Playwright could not start Chromium (%s): printing each PDF with a Chromium "
            "subprocess instead",
            first_line,
        )
    worker.printers[binary] = printer
    return printer


def print_in_browser(
    html_path: Path, pdf_path: Path, binary: str, flags: Sequence[str], timeout_s: float
) -> bool:
    """Print ``html_path`` to ``pdf_path`` in the open browser; False if there is none.

    A browser that fails mid-print (crashed, hung past the timeout) is closed and forgotten, so
    the next PDF starts a fresh one; this PDF is left to the caller's subprocess path.
    """
    worker = _printing_thread()

    def work() -> bool:
        printer = _printer(worker, binary, flags, timeout_s)
        if printer is None:
            return False
        try:
            printer.page.goto(html_path.resolve().as_uri(), wait_until="load")
            printer.page.pdf(path=str(pdf_path), **PDF_OPTIONS)
        except Exception as exc:  # crashed, hung, closed: start afresh next time
            log.warning("the open Chromium could not print %s (%s): restarting it", html_path, exc)
            worker.printers.pop(binary, None)
            printer.close()
            return False
        printer.printed += 1
        return True

    try:
        # Launch and print each have Playwright's own timeout; this only guards a wedged thread.
        return worker.call(work, 3 * timeout_s + _GRACE_SECONDS)
    except TimeoutError:
        log.warning(
            "the PDF thread did not answer for %s: printing it with a subprocess", html_path
        )
        return False


def printer_stats() -> dict[str, Any]:
    """Browsers started so far and PDFs printed by each open one (for tests and benchmarks)."""
    worker = _printing_thread()
    return worker.call(
        lambda: {
            "launches": worker.launches,
            "printed": {b: p.printed for b, p in worker.printers.items() if p is not None},
        },
        _GRACE_SECONDS,
    )


@atexit.register
def close_browsers() -> None:
    """Close every open browser and forget failures (the next PDF starts afresh)."""
    with _lock:
        worker = _worker
    if worker is not None and worker.thread.is_alive():
        with contextlib.suppress(Exception):  # at exit, never raise
            worker.call(worker.close_all, _GRACE_SECONDS)
