"""The sign-in screen: a presenter that starts a session, a view sized for gloved hands.

:class:`LoginPresenter` turns a user id and password into a :class:`LoginState`: either the
signed-in :class:`~station.services.sessions.Session` or the error's own words ("user id or
password is wrong", "account … is locked …"). It never counts a blank password as an
attempt, so pressing Enter on an empty field cannot lock anybody out.

:class:`LoginView` renders the state: large fields, a large "Sign in" button, Enter
submits, errors in a high-contrast label. In demo mode it lists the demo accounts and their
passwords on the screen.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt, QThreadPool, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from station.core.accounts import AuthenticationError
from station.services.sessions import Session, SessionManager
from ui.widgets.look import font, line_edit

Clock = Callable[[], dt.datetime]
_log = logging.getLogger(__name__)

#: (user id, password, role) of each demo account, shown only in demo mode.
DemoUser = tuple[str, str, str]

ENTER_USER_ID = "enter your user id"
ENTER_PASSWORD = "enter your password"

FONT_PT = 22
TITLE_PT = 32
CONTROL_HEIGHT = 72


@dataclass(frozen=True)
class LoginState:
    """What the sign-in screen shows: checking, an error, or the session that just started."""

    error: str = ""
    session: Session | None = None
    checking: bool = False

    @property
    def signed_in(self) -> bool:
        """Whether the last submission started a session."""
        return self.session is not None


class LoginPresenter(QObject):
    """Starts sessions through ``sessions`` at the time ``clock`` gives.

    The password check is slow on purpose (argon2, over a tenth of a second) and reads the
    record, so it runs in Qt's thread pool; the answer comes back to this object's thread
    as a new state. One check at a time: a second Enter while checking does nothing.
    """

    state_changed = Signal(object)  # LoginState
    signed_in = Signal(object)  # Session
    _checked = Signal(object, str)  # Session | None, error (from the pool thread)

    def __init__(self, sessions: SessionManager, clock: Clock,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._sessions = sessions
        self._clock = clock
        self.state = LoginState()
        self._checked.connect(self._on_checked)

    def submit(self, user_id: str, password: str) -> LoginState:
        """Check the user id and password; the outcome arrives as ``state_changed``."""
        if self.state.checking:
            return self.state
        user_id = user_id.strip()
        if not user_id:
            return self._set(LoginState(error=ENTER_USER_ID))
        if not password:
            return self._set(LoginState(error=ENTER_PASSWORD))
        now = self._clock()
        QThreadPool.globalInstance().start(lambda: self._check(user_id, password, now))
        return self._set(LoginState(checking=True))

    def _check(self, user_id: str, password: str, now: dt.datetime) -> None:
        """On a pool thread: the slow part."""
        try:
            session = self._sessions.start(user_id, password, now=now)
        except AuthenticationError as error:
            self._checked.emit(None, str(error))
        except Exception as error:  # the record is unreachable: say so, never hang
            _log.exception("sign-in of %s failed", user_id)
            self._checked.emit(None, f"sign-in failed: {error}")
        else:
            self._checked.emit(session, "")

    def _on_checked(self, session: Session | None, error: str) -> None:
        if session is None:
            self._set(LoginState(error=error))
            return
        self._set(LoginState(session=session))
        self.signed_in.emit(session)

    def _set(self, state: LoginState) -> LoginState:
        self.state = state
        self.state_changed.emit(state)
        return state


class LoginView(QWidget):
    """User id, password and a big "Sign in" button; ``signed_in(session)`` on success."""

    signed_in = Signal(object)  # Session

    def __init__(self, presenter: LoginPresenter, *,
                 demo_users: Sequence[DemoUser] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.presenter = presenter
        self.setObjectName("login_view")
        self.setFont(font(FONT_PT))

        title = QLabel("Sign in to the IV station", self)
        title.setFont(font(TITLE_PT, bold=True))
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)

        self.user_id_field = self._field("user_id_field", "User id")
        self.password_field = self._field("password_field", "Password")
        self.password_field.setEchoMode(QLineEdit.EchoMode.Password)
        self.user_id_field.returnPressed.connect(self._on_user_id_entered)
        self.password_field.returnPressed.connect(self._on_submit_requested)

        form = QFormLayout()
        form.setVerticalSpacing(20)
        form.setHorizontalSpacing(24)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        form.addRow(self._caption("User id"), self.user_id_field)
        form.addRow(self._caption("Password"), self.password_field)

        self.sign_in_button = QPushButton("Sign in", self)
        self.sign_in_button.setObjectName("sign_in_button")
        self.sign_in_button.setFont(font(FONT_PT + 2, bold=True))
        self.sign_in_button.setMinimumHeight(CONTROL_HEIGHT + 8)
        self.sign_in_button.setAutoDefault(False)
        self.sign_in_button.clicked.connect(self._on_submit_requested)

        self.error_label = self._error_label()

        form_box = QWidget(self)
        form_box.setMaximumWidth(900)
        box_layout = QVBoxLayout(form_box)
        box_layout.setSpacing(24)
        box_layout.addWidget(title)
        box_layout.addLayout(form)
        box_layout.addWidget(self.sign_in_button)
        box_layout.addWidget(self.error_label)

        self.demo_label = self._demo_label(demo_users) if demo_users else None
        if self.demo_label is not None:
            box_layout.addWidget(self.demo_label)

        outer = QVBoxLayout(self)
        outer.addStretch(1)
        outer.addWidget(form_box, 0, Qt.AlignmentFlag.AlignHCenter)
        outer.addStretch(1)

        presenter.state_changed.connect(self._on_state_changed)
        presenter.signed_in.connect(self.signed_in)
        self.setTabOrder(self.user_id_field, self.password_field)
        self.setTabOrder(self.password_field, self.sign_in_button)
        self.user_id_field.setFocus()

    def _error_label(self) -> QLabel:
        label = QLabel(self)
        label.setObjectName("error_label")
        label.setWordWrap(True)
        label.setFont(font(FONT_PT, bold=True))
        label.setAccessibleName("Sign-in error")
        label.setStyleSheet(
            "QLabel { background: #b71c1c; color: #ffffff; padding: 12px 16px;"
            " border-radius: 6px; }"
        )
        label.hide()
        return label

    def _demo_label(self, demo_users: Sequence[DemoUser]) -> QLabel:
        label = QLabel(self._demo_text(demo_users), self)
        label.setObjectName("demo_label")
        label.setFont(font(FONT_PT - 2))
        label.setTextFormat(Qt.TextFormat.RichText)
        label.setStyleSheet(
            "QLabel { background: #fff8e1; color: #000000; border: 3px solid #ff8f00;"
            " padding: 12px 16px; }"
        )
        return label

    def _field(self, name: str, accessible: str) -> QLineEdit:
        return line_edit(self, name, accessible, points=FONT_PT, height=CONTROL_HEIGHT,
                         width=480)

    def _caption(self, text: str) -> QLabel:
        label = QLabel(text, self)
        label.setFont(font(FONT_PT, bold=True))
        label.setMinimumHeight(CONTROL_HEIGHT)
        return label

    @staticmethod
    def _demo_text(demo_users: Sequence[DemoUser]) -> str:
        rows = "".join(
            f"<tr><td><b>{html.escape(user_id)}</b></td>"
            f"<td>&nbsp;&nbsp;{html.escape(password)}</td>"
            f"<td>&nbsp;&nbsp;{html.escape(role)}</td></tr>"
            for user_id, password, role in demo_users
        )
        return (
            "<b>DEMO MODE: sample accounts (not for patient use)</b>"
            "<table cellpadding='4'><tr><th align='left'>User id</th>"
            "<th align='left'>&nbsp;&nbsp;Password</th><th align='left'>&nbsp;&nbsp;Role</th>"
            f"</tr>{rows}</table>"
        )

    def _on_user_id_entered(self) -> None:
        if self.password_field.text():
            self._on_submit_requested()
        else:
            self.password_field.setFocus()

    def _on_submit_requested(self) -> None:
        self.presenter.submit(self.user_id_field.text(), self.password_field.text())

    def _on_state_changed(self, state: LoginState) -> None:
        self.show_state(state)

    def show_state(self, state: LoginState) -> None:
        """Show ``state``: checking, the error (password cleared) or a cleared form."""
        self.sign_in_button.setEnabled(not state.checking)
        self.sign_in_button.setText("Checking…" if state.checking else "Sign in")
        if state.checking:
            return
        self.password_field.clear()
        if state.signed_in:
            self.user_id_field.clear()
            self.error_label.hide()
            self.error_label.clear()
            self.user_id_field.setFocus()
            return
        self.error_label.setText(f"✖ {state.error}" if state.error else "")
        self.error_label.setVisible(bool(state.error))
        if state.error == ENTER_USER_ID:
            self.user_id_field.setFocus()
        else:
            self.password_field.setFocus()
