"""Print-to-PDF through one headless Chromium kept open for the process (one per thread).

Starting Chromium is most of what a PDF costs (about a second, against a tenth of one to print
a board report in a browser already open), so the first PDF a thread prints starts a browser
through Playwright and later PDFs on that thread reuse it and its one page. Playwright's sync
objects belong to the thread that made them, hence one browser per thread (``threading.local``);
every browser is closed at process exit (``atexit``).

The browser is Debian's ``chromium`` with the flags ``wardprog.reports.board`` documents, and
the print options are the ones ``chromium --headless --print-to-pdf --no-pdf-header-footer``
uses: the page's own CSS page size and margins (``@page``), backgrounds, a tagged PDF and no
browser header or footer, so the PDF renders as the subprocess's did, page for page.

When Playwright cannot start here (not installed, no driver, a running asyncio loop on this
thread) :func:`print_in_browser` returns False after one log line, and the caller prints with a
Chromium subprocess as before; a thread that failed once does not try again.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# What ``--print-to-pdf --no-pdf-header-footer`` does, as ``page.pdf`` options (A4 is only the
# fallback: the board report's ``@page { size: A4 }`` wins, as it does for the subprocess).
PDF_OPTIONS: dict[str, Any] = {
    "format": "A4",
    "print_background": True,
    "display_header_footer": False,
    "prefer_css_page_size": True,
    "tagged": True,
}


@dataclass
class BrowserPrinter:
    """One thread's Playwright, Chromium and the page every PDF of that thread is printed on."""

    binary: str
    playwright: Any
    browser: Any
    page: Any
    thread_id: int = field(default_factory=threading.get_ident)
    printed: int = 0

    def close(self) -> None:
        """Close the browser and stop Playwright (best effort: the process may be exiting)."""
        for step in (self.browser.close, self.playwright.stop):
            with contextlib.suppress(Exception):  # closing must never raise at exit
                step()


_local = threading.local()
_lock = threading.Lock()
# Every open printer, whatever its thread, for the exit hook.
_printers: list[BrowserPrinter] = []


def _thread_printers() -> dict[str, BrowserPrinter | None]:
    """This thread's printers by Chromium binary (None: Playwright could not start for it)."""
    found: dict[str, BrowserPrinter | None] | None = getattr(_local, "printers", None)
    if found is None:
        found = _local.printers = {}
    return found


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


def thread_printer(binary: str, flags: Sequence[str], timeout_s: float) -> BrowserPrinter | None:
    """This thread's open browser on ``binary``, started on first use; None if it cannot be."""
    printers = _thread_printers()
    if binary in printers:
        return printers[binary]
    try:
        printer: BrowserPrinter | None = _launch(binary, flags, timeout_s)
    except Exception as exc:  # any failure to start: the subprocess path
        log.warning(
            "Playwright could not start Chromium (%s): printing each PDF with a Chromium "
            "subprocess instead",
            str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
        )
        printer = None
    printers[binary] = printer
    if printer is not None:
        with _lock:
            _printers.append(printer)
    return printer


def _forget(printer: BrowserPrinter) -> None:
    _thread_printers().pop(printer.binary, None)
    with _lock:
        if printer in _printers:
            _printers.remove(printer)
    printer.close()


def print_in_browser(
    html_path: Path, pdf_path: Path, binary: str, flags: Sequence[str], timeout_s: float
) -> bool:
    """Print ``html_path`` to ``pdf_path`` in this thread's browser; False if there is none.

    A browser that fails mid-print (crashed, hung past the timeout) is closed and forgotten, so
    the next PDF starts a fresh one; this PDF is left to the caller's subprocess path.
    """
    printer = thread_printer(binary, flags, timeout_s)
    if printer is None:
        return False
    try:
        printer.page.goto(html_path.resolve().as_uri(), wait_until="load")
        printer.page.pdf(path=str(pdf_path), **PDF_OPTIONS)
    except Exception as exc:  # crashed, hung, closed: start afresh next time
        log.warning("the open Chromium could not print %s (%s): restarting it", html_path, exc)
        _forget(printer)
        return False
    printer.printed += 1
    return True


@atexit.register
def close_browsers() -> None:
    """Close the browsers this thread opened (at exit: the main thread's).

    Another thread's Playwright objects cannot be driven from this one (its greenlet belongs to
    that thread); those browsers end with Playwright's driver, which exits with this process
    (its pipe to us closes) and takes its browsers with it.
    """
    me = threading.get_ident()
    with _lock:
        mine = [p for p in _printers if p.thread_id == me]
        _printers[:] = [p for p in _printers if p.thread_id != me]
    for printer in mine:
        printer.close()
    _thread_printers().clear()
