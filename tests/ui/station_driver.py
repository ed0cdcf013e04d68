"""Drive the whole station window as a technician would: keys and scanner bursts only.

:class:`Technician` types at human speed (slower than any scanner, so the application-wide
scanner filter lets the keys through), scans by sending a burst of key events followed by
Enter (as a keyboard-wedge scanner does), and presses Enter for the steps that need it. The
physical world — what is on the balance's pan, what the camera sees — is acted out by the
station's own :class:`~station.demo.hood.DemoHood`, never by the window's mouse.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication, QWidget

from station.config.station_config import config_from_mapping
from station.core.recipe import build_recipe
from station.core.workflow import Phase
from station.demo.content import DEMO_ACCOUNTS
from station.demo.hood import Mistake, progress_marker
from station.services.hood import NextAction
from ui.shell.app import Station

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
#: Seconds a technician's keystrokes are apart (the scanner filter's limit is 35 ms).
TYPING_DELAY_MS = 60
STEP_TIMEOUT_MS = 20_000
#: How long the hands leave the pan empty before the next load (the balance must see it).
EMPTY_PAN_MS = 1500
GS = "\x1d"


def demo_config(tmp_path: Path):
    """The demo's configuration, with the record in ``tmp_path``."""
    return config_from_mapping({"record": {"url": f"sqlite:///{tmp_path / 'station.db'}"},
                                "station": {"id": "hood-test", "name": "Hood test"}})


def local_clock() -> dt.datetime:
    """The hood's real clock (balance checks and expiry compare with today)."""
    return dt.datetime.now().astimezone()


def screenshot(widget: QWidget, name: str) -> Path:
    """Save what ``widget`` shows now as ``artifacts/NAME.png``."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    assert widget.grab().save(str(path)), f"could not save {path}"
    return path


class Technician:
    """Keys, scanner bursts and the simulated hood; see the module's description."""

    def __init__(self, qtbot, station: Station) -> None:
        self.qtbot = qtbot
        self.station = station
        self.window = station.window
        assert station.demo is not None, "the end-to-end tests run the demo hood"
        self.hood = station.demo

    # ------------------------------------------------------------ keys

    def focus(self) -> QWidget:
        """The widget that has the keyboard (the window's, when nothing inside has it)."""
        widget = QApplication.focusWidget()
        return widget if widget is not None else self.window

    def type(self, text: str) -> None:
        """Type ``text`` at human speed into whatever has the focus."""
        for char in text:
            self.qtbot.keyClick(self.focus(), char)
            self.qtbot.wait(TYPING_DELAY_MS)

    def press(self, key: Qt.Key) -> None:
        """Press one key (Enter, F8 …) at human speed."""
        self.qtbot.keyClick(self.focus(), key)
        self.qtbot.wait(TYPING_DELAY_MS)

    def scan(self, text: str) -> None:
        """A keyboard-wedge scanner's burst: every character at once, then Enter."""
        target = self.focus()
        for char in text:
            if char == GS:  # a scanner types GS as Ctrl+] (QTest has no key for it)
                for kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
                    QApplication.sendEvent(target, QKeyEvent(
                        kind, Qt.Key.Key_BracketRight, Qt.KeyboardModifier.ControlModifier, GS))
            else:
                self.qtbot.keyClick(target, char)
        self.qtbot.keyClick(target, Qt.Key.Key_Return)

    def sign_in(self, user_id: str = "tech.demo") -> None:
        """Type the user id and password, Enter after each."""
        account = next(a for a in DEMO_ACCOUNTS if a.user_id == user_id)
        self.qtbot.waitUntil(self.window.login_view.user_id_field.hasFocus, timeout=5000)
        self.type(account.user_id)
        self.press(Qt.Key.Key_Return)
        self.type(account.password)
        self.press(Qt.Key.Key_Return)
        self.qtbot.waitUntil(lambda: self.window.session is not None
                             or self.window.login_view.error_label.isVisible(), timeout=10_000)

    # ------------------------------------------------------------ the hood

    @property
    def presenter(self):
        """The preparation presenter (its view and preparation mirror the hood worker's)."""
        return self.station.preparation

    def snapshot(self) -> tuple[object, ...]:
        """What changes when the preparation moves on."""
        return progress_marker(self.presenter.view, self.presenter.preparation)

    def wait_for_change(self, before: tuple[object, ...],
                        timeout: int = STEP_TIMEOUT_MS) -> None:
        """Wait until the preparation is not where it was."""
        try:
            self.qtbot.waitUntil(lambda: self.snapshot() != before, timeout=timeout)
        except Exception as error:
            state = self.presenter.state
            raise AssertionError(f"stuck at {before}: message {state.message!r}, "
                                 f"stop {state.stop!r}, instruction {state.instruction!r}, "
                                 f"demo {self.hood.state}") from error

    def wait_for(self, action: NextAction, timeout: int = STEP_TIMEOUT_MS) -> None:
        """Wait until the station asks for ``action``."""
        self.qtbot.waitUntil(lambda: self.presenter.view is not None
                             and self.presenter.view.next_action is action, timeout=timeout)

    def do_step(self, mistake: Mistake | None = None) -> None:
        """Do what the station asks next (with ``mistake``), and wait until it moved on."""
        view, prep = self.presenter.view, self.presenter.preparation
        assert view is not None
        before = self.snapshot()
        move = self.hood.next_move(view, prep, mistake)
        if self.hood.lifted:  # the last item came off first; the balance sees the empty pan
            self.qtbot.wait(EMPTY_PAN_MS)
            move = self.hood.next_move(view, prep, mistake)
        if move.scan is not None:
            self.scan(move.scan)
        elif move.typed is not None:
            self.type_lot(*move.typed)
        elif move.keep_vial:
            self.press(Qt.Key.Key_K)
        elif move.enter:
            self.press(Qt.Key.Key_Return)
        self.wait_for_change(before)

    def type_lot(self, first_lot: str, first_expiry: str, second_lot: str,
                 second_expiry: str) -> None:
        """T, then the lot and expiry typed twice, blind: Enter after each field."""
        self.press(Qt.Key.Key_T)
        for text in (first_lot, first_expiry, second_lot, second_expiry):
            self.type(text)
            self.press(Qt.Key.Key_Return)

    def work_until(self, stop: set[NextAction] | None = None, *,
                   phases: frozenset[Phase] = frozenset({Phase.AWAITING_VERIFICATION}),
                   limit: int = 60) -> None:
        """Do each step right until the station asks for one of ``stop`` or reaches a phase."""
        for _ in range(limit):
            view = self.presenter.view
            if view is not None and (view.phase in phases or (
                    stop is not None and view.next_action in stop)):
                return
            self.do_step()
        raise AssertionError(f"did not get there in {limit} steps: {self.presenter.view}")

    def finish(self) -> None:
        """Do each step right until the preparation is held for verification."""
        self.work_until()


def single_vial_order(station: Station) -> str:
    """The most urgent sample order made from one vial into a bag, with no pharmacist check."""
    from station.records.formulary_versions import FormularyVersions  # noqa: PLC0415
    from station.records.order_book import OrderBook  # noqa: PLC0415

    formulary = FormularyVersions(station.record.engine).latest().formulary()  # type: ignore[union-attr]
    for order in OrderBook(station.record.engine, local_clock).worklist():
        if build_recipe(order, formulary, station.services.site_tolerance).standard_single_vial:
            return order.order_id
    raise AssertionError("the sample worklist has no single-vial order")


def start_single_vial_order(technician: Technician, station: Station, qtbot) -> str:
    """Sign in, scan the single-vial order and wait for its first step; the order's id."""
    window = station.window
    technician.sign_in()
    qtbot.waitUntil(lambda: len(window.worklist_presenter.state.rows) > 0, timeout=10_000)
    order_id = single_vial_order(station)
    technician.scan(order_id)
    qtbot.waitUntil(lambda: window.current_page is window.preparation_view, timeout=10_000)
    return order_id
