"""The auditor's page: the record's chain status, the search, and the replay of one preparation.

Across the top, the result of re-checking the whole record (the hash chain, then every
photo), done by the :class:`~ui.workers.audit_worker.AuditWorker` when it starts, when an auditor
signs in, and on F5. An intact record gets one green line; a broken one gets a red banner
in large type that says what is broken, above everything else, for as long as the page is
open. Below it two tabs: the search (:class:`~ui.audit.search.AuditSearchView`) and the
replay (:class:`~ui.audit.replay_view.ReplayView`); Enter or a double click on a result replays it.

Every read of the record happens on the worker's thread; the page only sends requests and
renders answers. Wiring: ``AuditPage(worker, prompts)``; the worker goes to the app's
:class:`~ui.workers.devices.DeviceThreads`, the page to the auditor's role page.
"""

from __future__ import annotations

import datetime as dt
from enum import Enum

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from station.services.audit import AuditReport
from station.services.sessions import Session
from ui.audit.replay_view import ReplayView
from ui.audit.search import (
    AuditPrompts,
    AuditSearchPresenter,
    AuditSearchView,
    FileDialogPrompts,
)
from ui.widgets.look import font
from ui.workers.audit_worker import AuditWorker, Replay

__all__ = ["AuditPage", "AuditPrompts", "ChainBanner", "ChainStatus", "FileDialogPrompts"]

BANNER_PT = 14
BROKEN_PT = 24
DETAIL_PT = 15
TAB_PT = 14
RED = "#b71c1c"
GOOD = "#1b5e20"
NEUTRAL = "#455a64"
_AGAIN = "(checking the record again…)"


class ChainStatus(Enum):
    """What the last check of the record found."""

    CHECKING = "checking"
    INTACT = "intact"
    BROKEN = "broken"
    UNCHECKED = "unchecked"  # the check itself failed (the database could not be read)


class ChainBanner(QFrame):
    """The record check's result: a green line when intact, a red banner when not.

    The headline says what was found in large type; the detail line below says what it
    means. :attr:`message` is both, as plain text.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("audit_chain_banner")
        self.headline = QLabel(self)
        self.headline.setObjectName("audit_chain_headline")
        self.detail = QLabel(self)
        self.detail.setObjectName("audit_chain_detail")
        for label in (self.headline, self.detail):
            label.setWordWrap(True)
            label.setTextFormat(Qt.TextFormat.PlainText)
            label.setStyleSheet("QLabel { color: #ffffff; background: transparent; }")
        self._layout = QVBoxLayout(self)
        self._layout.setSpacing(2)
        self._layout.addWidget(self.headline)
        self._layout.addWidget(self.detail)
        self._background = NEUTRAL
        self.status = ChainStatus.CHECKING
        self.problem: str | None = None
        self.show_checking()

    @property
    def message(self) -> str:
        """The headline and the detail line, as plain text."""
        return "\n".join(t for t in (self.headline.text(), self.detail.text()) if t)

    @property
    def background(self) -> str:
        """The banner's colour."""
        return self._background

    def show_checking(self) -> None:
        """A check is under way; a broken record stays shouted until the answer comes."""
        if self.status in (ChainStatus.BROKEN, ChainStatus.UNCHECKED):
            if not self.detail.text().endswith(_AGAIN):
                self.detail.setText(f"{self.detail.text()} {_AGAIN}".strip())
            return
        self.status = ChainStatus.CHECKING
        self._show(NEUTRAL, BANNER_PT, "Checking the record's hash chain and photos…", "")

    def show_report(self, report: AuditReport, at: dt.datetime) -> None:
        """The check's result, made at ``at``."""
        when = f"{at.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC"
        if report.intact:
            self.status, self.problem = ChainStatus.INTACT, None
            self._show(GOOD, BANNER_PT,
                       f"✔ Record chain intact: {report.events} events in "
                       f"{report.preparations} preparations, {report.photos} photos "
                       f"(checked {when})", "")
            return
        self.status, self.problem = ChainStatus.BROKEN, report.problem
        self._show(RED, BROKEN_PT, f"✖ RECORD CHAIN BROKEN — {report.problem}",
                   "The record was changed outside the station: what it says there cannot be "
                   f"trusted. Keep the record as it is and report it. (checked {when})")

    def show_failure(self, why: str) -> None:
        """The check could not be made."""
        self.status, self.problem = ChainStatus.UNCHECKED, None
        self._show(RED, BROKEN_PT, "✖ THE RECORD COULD NOT BE CHECKED",
                   f"{why}. Until it is, nothing shown here is known to be intact.")

    def _show(self, background: str, points: int, headline: str, detail: str) -> None:
        self._background = background
        self.setStyleSheet(f"QFrame#audit_chain_banner {{ background: {background}; }}")
        self.headline.setFont(font(points, bold=True))
        self.detail.setFont(font(DETAIL_PT, bold=True))
        self.headline.setText(headline)
        self.detail.setText(detail)
        self.detail.setVisible(bool(detail))
        margin = 14 if points >= BROKEN_PT else 6
        self._layout.setContentsMargins(16, margin, 16, margin)


class AuditPage(QWidget):
    """Chain status, search and replay over one :class:`AuditWorker`; see the module."""

    def __init__(self, worker: AuditWorker, prompts: AuditPrompts | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("audit_page")
        self.worker = worker
        self._wanted_replay: str | None = None

        self.banner = ChainBanner(self)
        self.verify_button = QPushButton("Check again (F5)", self)
        self.verify_button.setObjectName("audit_verify_button")
        self.verify_button.setFont(font(BANNER_PT, bold=True))
        self.verify_button.setMinimumHeight(44)
        self.verify_button.clicked.connect(self.verify)
        self.user_label = QLabel(self)
        self.user_label.setObjectName("audit_user")
        self.user_label.setFont(font(BANNER_PT))

        self.search = AuditSearchPresenter(self)
        self.search_view = AuditSearchView(self.search, prompts, self)
        self.replay_view = ReplayView(self)
        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("audit_tabs")
        self.tabs.tabBar().setFont(font(TAB_PT, bold=True))
        self.tabs.addTab(self.search_view, "Search the record")
        self.tabs.addTab(self.replay_view, "Replay")

        top = QHBoxLayout()
        top.addWidget(self.banner, 1)
        top.addWidget(self.verify_button)
        layout = QVBoxLayout(self)
        layout.setSpacing(8)
        layout.addLayout(top)
        layout.addWidget(self.user_label)
        layout.addWidget(self.tabs, 1)
        self.user_label.hide()

        self._connect(worker)
        for keys, action in (("F5", self.verify), ("Ctrl+F", self.show_search)):
            shortcut = QShortcut(QKeySequence(keys), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(action)
        self.setFocusProxy(self.search_view)

    def _connect(self, worker: AuditWorker) -> None:
        search = self.search
        search.search_requested.connect(worker.search_requested)
        search.export_requested.connect(worker.export_requested)
        search.replay_requested.connect(self.replay)
        worker.searched.connect(search.show_result)
        worker.search_failed.connect(search.show_search_failure)
        worker.exported.connect(search.show_exported)
        worker.export_failed.connect(search.show_export_failure)
        worker.verified.connect(self._on_verified)
        worker.verify_failed.connect(self._on_verify_failed)
        worker.replay_loaded.connect(self._on_replay_loaded)
        worker.replay_failed.connect(self._on_replay_failed)

    # ------------------------------------------------------------ actions

    def set_session(self, session: Session | None) -> None:
        """An auditor signed in (check the record again), or out (forget what was shown)."""
        if session is None:
            self.search.clear()
            self.search_view.clear_form()
            self._wanted_replay = None
            self.replay_view.clear("Choose a preparation in the search results to replay it.")
            self.tabs.setCurrentWidget(self.search_view)
            self.user_label.hide()
            return
        user = session.user
        self.user_label.setText(f"Auditing as {user.printed_name} ({user.user_id})")
        self.user_label.show()
        self.verify()

    def verify(self) -> None:
        """Re-check the whole record on the worker."""
        self.banner.show_checking()
        self.worker.verify_requested.emit()

    def replay(self, preparation_id: str) -> None:
        """Load ``preparation_id`` on the worker and show its replay."""
        self._wanted_replay = preparation_id
        self.replay_view.clear(f"Loading {preparation_id}…")
        self.tabs.setCurrentWidget(self.replay_view)
        self.tabs.setTabText(1, f"Replay {preparation_id}")
        self.worker.replay_requested.emit(preparation_id)

    def show_search(self) -> None:
        """The search tab, with the keyboard in the first field."""
        self.tabs.setCurrentWidget(self.search_view)
        self.search_view.fields["patient"].setFocus()

    # ------------------------------------------------------------ answers

    def _on_verified(self, report: AuditReport) -> None:
        self.banner.show_report(report, dt.datetime.now(dt.UTC))
        self.replay_view.set_broken_event(report.problem)

    def _on_verify_failed(self, why: str) -> None:
        self.banner.show_failure(why)

    def _on_replay_loaded(self, replay: Replay) -> None:
        if replay.review.preparation_id != self._wanted_replay:
            return  # the auditor has asked for another one since
        self.replay_view.load(replay.review, replay.photos, replay.photo_problems)
        self.replay_view.setFocus()

    def _on_replay_failed(self, preparation_id: str, why: str) -> None:
        if preparation_id == self._wanted_replay:
            self.replay_view.clear(f"✖ {preparation_id} could not be replayed: {why}")
