"""The technician's station window: sign in, the worklist, the guided preparation.

One page at a time in a stack; the devices' states along the bottom; in demo mode the
simulated hood's controls on the right. Every scan — keyboard-wedge bursts caught by the
application-wide :class:`~ui.shell.scanner_filter.ScannerEventFilter`, a serial scanner, or the
demo panel's handheld — arrives at :meth:`StationWindow.route_scan`, which gives it to the
page on show: the worklist starts the order it names, the preparation takes it as the step's
scan. The window holds no logic beyond choosing the page.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Protocol, runtime_checkable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent, QFont, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from station.core.accounts import Role
from station.core.workflow import Phase, Preparation
from station.devices.camera import CameraState
from station.services.hood import HoodView
from station.services.sessions import Session
from ui.shell.login import LoginState, LoginView
from ui.technician.preparation_view import PreparationView
from ui.technician.worklist import WorklistPresenter, WorklistView
from ui.widgets.status_bar import DeviceStatusBar

HEADER_PT = 16
WINDOW_TITLE = "IV compounding station"


@runtime_checkable
class SessionAware(Protocol):
    """A role's page (pharmacist, auditor) is told who signed in, or None on sign-out."""

    def set_session(self, session: Session | None) -> None:
        """Show this user's view (or forget them)."""


@runtime_checkable
class ScanAware(Protocol):
    """A role's page that takes scans (the pharmacist's: a label opens its review)."""

    def open_scanned(self, text: str) -> bool:
        """Act on one scan; False if it named nothing here."""


class StationWindow(QMainWindow):
    """The pages and the routing of scans between them; see the module's description."""

    start_requested = Signal(str, str)  # order id, user id
    user_signed_in = Signal(str)  # user id
    signed_out = Signal()
    settings_requested = Signal()
    closing = Signal()

    def __init__(self, login: LoginView, worklist: WorklistPresenter,
                 preparation: PreparationView, *, station_name: str,
                 side_panel: QWidget | None = None,
                 role_pages: Mapping[Role, QWidget] | None = None) -> None:
        super().__init__()
        self.setObjectName("station_window")
        self.setWindowTitle(f"{WINDOW_TITLE} — {station_name}")
        self.session: Session | None = None
        self.login_view = login
        self.worklist_presenter = worklist
        self.worklist_view = WorklistView(worklist)
        self.preparation_view = preparation
        self.status = DeviceStatusBar(self)
        self.setStatusBar(self.status)

        self.header = QLabel(self)
        self.header.setObjectName("station_header")
        font = QFont()
        font.setPointSize(HEADER_PT)
        self.header.setFont(font)
        self.header.setStyleSheet("QLabel { background: #263238; color: #ffffff; "
                                  "padding: 8px 14px; }")
        self._station_name = station_name

        self.role_pages: dict[Role, QWidget] = dict(role_pages or {})
        self.pages = QStackedWidget(self)
        for page in (login, self.worklist_view, preparation, *self.role_pages.values()):
            self.pages.addWidget(page)

        body = QHBoxLayout()
        body.setContentsMargins(0, 0, 0, 0)
        body.addWidget(self.pages, 1)
        if side_panel is not None:
            scroller = QScrollArea(self)  # a short screen scrolls the panel, never squeezes it
            scroller.setObjectName("side_panel_scroller")
            scroller.setWidget(side_panel)
            scroller.setWidgetResizable(True)
            scroller.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
            scroller.setFrameShape(QFrame.Shape.NoFrame)
            scroller.setFixedWidth(side_panel.maximumWidth() + 16)
            body.addWidget(scroller)
        central = QWidget(self)
        outer = QVBoxLayout(central)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        outer.addWidget(self.header)
        outer.addLayout(body, 1)
        self.setCentralWidget(central)

        login.signed_in.connect(self.on_signed_in)
        worklist.start_requested.connect(self._on_start_requested)
        preparation.presenter.finished.connect(self.on_preparation_finished)
        for key, slot in ((Qt.Key.Key_F2, self.settings_requested.emit),
                          (Qt.Key.Key_F12, self.sign_out)):
            shortcut = QShortcut(QKeySequence(key), self)
            shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
            shortcut.activated.connect(slot)
        self._show_header()
        self.show_page(login)

    # ------------------------------------------------------------ pages

    def show_page(self, page: QWidget) -> None:
        """Bring ``page`` forward and give it the keyboard."""
        self.pages.setCurrentWidget(page)
        page.setFocus()
        if page is self.login_view:
            self.login_view.user_id_field.setFocus()

    @property
    def current_page(self) -> QWidget | None:
        """The page on show."""
        return self.pages.currentWidget()

    def on_signed_in(self, session: Session) -> None:
        """The signed-in user's screen: a technician's worklist, or their role's page."""
        role = session.user.role
        page = self.role_pages.get(role)
        if role is not Role.TECHNICIAN and page is None:
            self.login_view.show_state(LoginState(
                error=f"{session.user.user_id} is {role.with_article}: this "
                      "station has no screen for that role"))
            return
        self.session = session
        self._show_header()
        if page is None:
            self.show_page(self.worklist_view)
            self.user_signed_in.emit(session.user.user_id)  # their unfinished preparation
        else:
            if isinstance(page, SessionAware):
                page.set_session(session)
            self.show_page(page)

    def note_activity(self, now: dt.datetime) -> None:
        """The user pressed a key, clicked or scanned: the session stays open."""
        if self.session is not None and not self.session.is_locked(now):
            self.session.touch(now)

    def check_idle(self, now: dt.datetime) -> bool:
        """Sign out a session left idle past its limit; True if it was."""
        session = self.session
        if session is None or not session.is_locked(now):
            return False
        minutes = round(session.idle_limit.total_seconds() / 60)
        self.sign_out()
        self.login_view.show_state(LoginState(
            error=f"{session.user.user_id} was signed out after {minutes} minutes without "
                  "activity: sign in again (an open preparation carries on)"))
        return True

    def sign_out(self) -> None:
        """F12: back to the sign-in page (a preparation in progress stays recorded)."""
        self.session = None
        for page in self.role_pages.values():
            if isinstance(page, SessionAware):
                page.set_session(None)
        self.login_view.password_field.clear()
        self.login_view.user_id_field.clear()
        self._show_header()
        self.show_page(self.login_view)
        self.signed_out.emit()

    def on_hood_view(self, view: HoodView, prep: Preparation | None) -> None:
        """Show the preparation page while a preparation is open."""
        if self.session is None or prep is None:
            return
        open_phases = {Phase.IN_PROGRESS, Phase.HARD_STOP, Phase.AWAITING_CHECK}
        if view.phase in open_phases and self.current_page is not self.preparation_view:
            self.show_page(self.preparation_view)

    def on_preparation_finished(self, preparation_id: str, outcome: str) -> None:
        """Held (or cancelled): back to the worklist, ready for the next order."""
        if outcome == Phase.AWAITING_VERIFICATION.value:
            words = f"{preparation_id} is held for a pharmacist's verification: scan the next order"
        else:
            words = f"{preparation_id} {outcome}"
        self.worklist_presenter.say(words)
        if self.session is not None:
            self.show_page(self.worklist_view)

    def on_camera_state(self, state: str, detail: str) -> None:
        """The camera's state: the status bar, and a cover over the preview when it is lost."""
        self.status.set_camera_state(state, detail)
        if state != CameraState.OPEN.value:
            self.preparation_view.camera.show_lost(detail)

    # ------------------------------------------------------------ scans

    def route_scan(self, text: str) -> None:
        """A scan from any scanner, given to the page on show."""
        page = self.current_page
        if page is self.worklist_view:
            self.worklist_presenter.scan(text)
        elif page is self.preparation_view:
            self.preparation_view.presenter.on_handheld(text)
        elif isinstance(page, ScanAware):
            page.open_scanned(text)  # a pharmacist scans a held bag's label to review it

    # ------------------------------------------------------------ helpers

    def _on_start_requested(self, order_id: str) -> None:
        if self.session is not None:
            self.start_requested.emit(order_id, self.session.user.user_id)

    def _show_header(self) -> None:
        who = ("not signed in" if self.session is None else
               f"{self.session.user.printed_name} ({self.session.user.user_id})")
        self.header.setText(f"{self._station_name}  ·  {who}  ·  F2 settings  ·  F12 sign out")

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt's name)
        """Tell the owner, which stops the devices before the window goes."""
        self.closing.emit()
        super().closeEvent(event)
