"""A serial barcode scanner on its own thread: scans out as signals, reconnects by itself.

:class:`ScannerWorker` owns a :class:`~station.devices.scanner_input.SerialScanner`. Its poll timer
fires as often as the thread's event loop allows and each tick waits at most
``poll_timeout`` seconds for a scan, so a queued ``stop`` never waits longer than that.
A port that is missing or goes away (a pulled USB cable) is reported ``disconnected`` with
the reason, and reopened every ``reopen_ms`` until the scanner is back.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from scale_drivers.api import BalanceDisconnected, SerialSettings
from scale_drivers.connection import LinkState
from station.devices.scanner_input import SerialScanner
from ui.workers.devices import _release_to_main_thread

_log = logging.getLogger(__name__)

#: How long one poll waits for a scan (s): the most a queued ``stop`` waits.
POLL_TIMEOUT = 0.1
#: How often a missing scanner is looked for again (ms).
REOPEN_MS = 500

CONNECTED = LinkState.CONNECTED.value
DISCONNECTED = LinkState.DISCONNECTED.value


class ScannerWorker(QObject):
    """A serial scanner at ``url`` (a port path, a by-id symlink or a pyserial URL).

    ``scanned(text)`` carries each scan with its GS separators restored;
    ``state_changed(state, detail)`` carries ``"connected"`` and the port, or
    ``"disconnected"`` and why (reported only when either changes).
    """

    scanned = Signal(str)
    state_changed = Signal(str, str)  # LinkState value, detail

    def __init__(
        self,
        url: str,
        settings: SerialSettings | None = None,
        *,
        name: str = "scanner",
        poll_timeout: float = POLL_TIMEOUT,
        reopen_ms: int = REOPEN_MS,
    ) -> None:
        super().__init__()
        self.setObjectName(name)
        self.url = url
        self._settings = settings
        self._poll_timeout = poll_timeout
        self._reopen_ms = reopen_ms
        self._scanner: SerialScanner | None = None
        self._poll_timer: QTimer | None = None
        self._reopen_timer: QTimer | None = None
        self._reported: tuple[str, str] | None = None
        self._stopped = False

    # ------------------------------------------------------------ slots (worker thread)

    @Slot()
    def start(self) -> None:
        """Open the port and start polling, or start retrying (call on the worker's thread)."""
        self._stopped = False
        self._poll_timer = QTimer(self)
        self._poll_timer.setInterval(0)
        self._poll_timer.timeout.connect(self._poll)
        self._reopen_timer = QTimer(self)
        self._reopen_timer.setInterval(self._reopen_ms)
        self._reopen_timer.timeout.connect(self._try_open)
        self._try_open()

    @Slot()
    def stop(self) -> None:
        """Stop polling, release the port and hand the worker back to the main thread."""
        self._stopped = True
        for timer in (self._poll_timer, self._reopen_timer):
            if timer is not None:
                timer.stop()
                timer.deleteLater()
        self._poll_timer = self._reopen_timer = None
        self._close()
        self._report(DISCONNECTED, "stopped")
        _release_to_main_thread(self)

    @property
    def connected(self) -> bool:
        """Whether the port is open now (read on the worker's thread)."""
        return self._scanner is not None

    # ------------------------------------------------------------ supervision

    def _try_open(self) -> None:
        if self._stopped or self._scanner is not None:
            return
        try:
            self._scanner = SerialScanner(self.url, self._settings)
        except BalanceDisconnected as error:  # missing, busy, or refused by the OS
            self._lost(str(error))
            return
        except Exception as error:  # a bug must not kill the device thread: log it, retry
            _log.exception("%s: opening %s failed", self.objectName(), self.url)
            self._lost(f"{type(error).__name__}: {error}")
            return
        assert self._poll_timer is not None and self._reopen_timer is not None
        self._reopen_timer.stop()
        self._report(CONNECTED, self.url)
        self._poll_timer.start()

    def _poll(self) -> None:
        scanner = self._scanner
        if self._stopped or scanner is None:
            return
        try:
            text = scanner.read_scan(self._poll_timeout)
        except BalanceDisconnected as error:  # the port went away (EIO, unplugged adapter)
            self._lost(str(error))
            return
        except Exception as error:  # a bug must not kill the device thread: log it, reopen
            _log.exception("%s: reading %s failed", self.objectName(), self.url)
            self._lost(f"{type(error).__name__}: {error}")
            return
        if text is not None:
            self.scanned.emit(text)

    def _lost(self, why: str) -> None:
        """Close whatever is open, say why, and look for the scanner again later."""
        self._close()
        if self._poll_timer is not None:
            self._poll_timer.stop()
        self._report(DISCONNECTED, why)
        if self._reopen_timer is not None and not self._reopen_timer.isActive():
            self._reopen_timer.start()

    def _close(self) -> None:
        scanner, self._scanner = self._scanner, None
        if scanner is not None:
            scanner.close()

    def _report(self, state: str, detail: str) -> None:
        if self._reported != (state, detail):
            self._reported = (state, detail)
            self.state_changed.emit(state, detail)
