"""The signature dialog: keyboard-only signing, what it refuses, busy and error states."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QLineEdit

from ui.widgets.signature_dialog import (
    CHECKING,
    CONTROL_HEIGHT,
    DIALOG_WIDTH,
    ENTER_PASSWORD,
    ENTER_REASON,
    ENTER_USER_ID,
    SignatureDialog,
    compose_reason,
)

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
HARD_STOP = ("Weighed 12.40 g of Vancomycin 1 g vial + diluent; expected 10.60 g ± 3 %. "
             "The dose is 17 % over.")
OVERRIDE_REASONS = ("Overfill in vial confirmed", "Balance verified with check weight",
                    "Prescriber contacted")
CHECK_REASONS = ("Wrong drug", "Wrong diluent", "Volume out of range", "Label unreadable")


class Submissions:
    """The ``submitted`` emissions, in order."""

    def __init__(self, dialog: SignatureDialog) -> None:
        self.args: list[tuple[str, str, str, str]] = []
        dialog.submitted.connect(self._on_submitted)

    def _on_submitted(self, choice: str, user_id: str, password: str, reason: str) -> None:
        self.args.append((choice, user_id, password, reason))


def _show(qtbot, dialog: SignatureDialog) -> SignatureDialog:
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog.activateWindow()
    qtbot.waitUntil(dialog.isActiveWindow, timeout=2000)  # so focus and :focus are real
    return dialog


def _override(qtbot) -> SignatureDialog:
    return _show(qtbot, SignatureDialog(
        title="Override hard stop", explanation=HARD_STOP, meaning="override-approved",
        reasons=OVERRIDE_REASONS, reason_required=True,
    ))


def _check(qtbot) -> SignatureDialog:
    return _show(qtbot, SignatureDialog(
        title="In-process check: Vancomycin 1.25 g in NS 250 mL",
        explanation="Bag 2 of 2 for Rivera, Ana (MRN 004512): every step, weight and photo "
                    "is on the screen behind this dialog.",
        meaning="in-process-check", reasons=CHECK_REASONS, choices=("Approve", "Reject"),
    ))


def _enter(qtbot, widget) -> None:
    qtbot.keyClick(widget, Qt.Key.Key_Return)


def _save(dialog: SignatureDialog, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    assert dialog.grab().save(str(ARTIFACTS / name))


def test_compose_reason_joins_the_standard_reason_and_the_details():
    assert compose_reason("Wrong drug", "  vial was cefazolin ") == "Wrong drug: vial was cefazolin"
    assert compose_reason("Wrong drug", " ") == "Wrong drug"
    assert compose_reason("", "label torn") == "label torn"
    assert compose_reason("", "") == ""


def test_an_override_is_signed_with_the_keyboard_alone(qtbot):
    dialog = _override(qtbot)
    assert dialog.meaning_label is not None
    assert dialog.meaning_label.text() == "Signing means: override-approved"
    assert dialog.explanation_label.text() == HARD_STOP
    assert dialog.focusWidget() is dialog.user_id_field
    _save(dialog, "signature_dialog_override.png")
    submissions = Submissions(dialog)

    qtbot.keyClicks(dialog.user_id_field, " rph.jane ")
    _enter(qtbot, dialog.user_id_field)
    assert dialog.focusWidget() is dialog.password_field
    qtbot.keyClicks(dialog.password_field, "rph-demo-4567")
    _enter(qtbot, dialog.password_field)
    assert dialog.focusWidget() is dialog.reason_combo
    qtbot.keyClick(dialog.reason_combo, Qt.Key.Key_Down)  # the placeholder → first reason
    qtbot.keyClick(dialog.reason_combo, Qt.Key.Key_Down)  # → second reason
    _enter(qtbot, dialog.reason_combo)
    assert dialog.focusWidget() is dialog.reason_field
    qtbot.keyClicks(dialog.reason_field, "50 g weight read 50.00 g")
    assert submissions.args == []
    _enter(qtbot, dialog.reason_field)

    assert submissions.args == [(
        "Approve", "rph.jane", "rph-demo-4567",
        "Balance verified with check weight: 50 g weight read 50.00 g",
    )]
    assert dialog.busy
    assert dialog.busy_label.isVisible() and dialog.busy_label.text() == CHECKING
    _enter(qtbot, dialog)  # a second Enter while checking signs nothing twice
    assert len(submissions.args) == 1

    with qtbot.waitSignal(dialog.accepted, timeout=1000):
        dialog.accept()
    assert dialog.password_field.text() == ""  # not left in memory after signing


def test_a_missing_reason_is_refused_with_a_message(qtbot):
    dialog = _override(qtbot)
    submissions = Submissions(dialog)
    qtbot.keyClicks(dialog.user_id_field, "rph.jane")
    qtbot.keyClicks(dialog.password_field, "rph-demo-4567")
    qtbot.mouseClick(dialog.choice_buttons[0], Qt.MouseButton.LeftButton)

    assert submissions.args == []
    assert dialog.error_label.isVisible()
    assert dialog.error_label.text() == f"✖ {ENTER_REASON}"
    assert dialog.focusWidget() is dialog.reason_combo
    assert not dialog.busy
    assert dialog.password_field.text() == "rph-demo-4567"  # nothing to retype

    qtbot.keyClicks(dialog.reason_field, "overfill 1.8 mL per manufacturer")
    qtbot.mouseClick(dialog.choice_buttons[0], Qt.MouseButton.LeftButton)
    assert submissions.args == [("Approve", "rph.jane", "rph-demo-4567",
                                 "overfill 1.8 mL per manufacturer")]
    assert dialog.error_label.isHidden()


@pytest.mark.parametrize(("user_id", "password", "message", "focus"), [
    ("", "rph-demo-4567", ENTER_USER_ID, "user_id_field"),
    ("   ", "rph-demo-4567", ENTER_USER_ID, "user_id_field"),
    ("rph.jane", "", ENTER_PASSWORD, "password_field"),
])
def test_missing_credentials_are_refused(qtbot, user_id, password, message, focus):
    dialog = _override(qtbot)
    submissions = Submissions(dialog)
    dialog.reason_combo.setCurrentIndex(0)
    qtbot.keyClicks(dialog.user_id_field, user_id)
    qtbot.keyClicks(dialog.password_field, password)
    qtbot.mouseClick(dialog.choice_buttons[0], Qt.MouseButton.LeftButton)
    assert submissions.args == []
    assert dialog.error_label.text() == f"✖ {message}"
    assert dialog.focusWidget() is getattr(dialog, focus)


def test_approve_needs_no_reason_but_reject_always_does(qtbot):
    dialog = _check(qtbot)
    assert [b.text() for b in dialog.choice_buttons] == ["Approve", "Reject"]
    _save(dialog, "signature_dialog_check.png")
    submissions = Submissions(dialog)
    qtbot.keyClicks(dialog.user_id_field, "rph.jane")
    qtbot.keyClicks(dialog.password_field, "rph-demo-4567")

    reject = dialog.choice_buttons[1]
    qtbot.mouseClick(reject, Qt.MouseButton.LeftButton)
    assert submissions.args == []
    assert dialog.error_label.text() == f"✖ {ENTER_REASON}"

    dialog.reason_combo.setFocus()
    qtbot.keyClick(dialog.reason_combo, Qt.Key.Key_Down)
    qtbot.keyClick(dialog.reason_combo, Qt.Key.Key_Down)
    reject.setFocus()
    _enter(qtbot, reject)  # Enter on a focused button presses that button
    assert submissions.args == [("Reject", "rph.jane", "rph-demo-4567", "Wrong diluent")]

    dialog.show_error("user rph.jane may not sign in-process checks")
    dialog.reason_combo.setCurrentIndex(-1)
    qtbot.keyClicks(dialog.password_field, "rph-demo-4567")
    qtbot.mouseClick(dialog.choice_buttons[0], Qt.MouseButton.LeftButton)
    assert submissions.args[-1] == ("Approve", "rph.jane", "rph-demo-4567", "")


def test_busy_disables_input_until_show_error_which_clears_the_password(qtbot):
    dialog = _check(qtbot)
    submissions = Submissions(dialog)
    qtbot.keyClicks(dialog.user_id_field, "rph.jane")
    qtbot.keyClicks(dialog.password_field, "not-my-password")
    qtbot.mouseClick(dialog.choice_buttons[0], Qt.MouseButton.LeftButton)
    assert len(submissions.args) == 1

    inputs = [dialog.user_id_field, dialog.password_field, dialog.reason_combo,
              dialog.reason_field, *dialog.choice_buttons]
    assert all(not widget.isEnabled() for widget in inputs)
    assert dialog.busy_label.isVisible()
    qtbot.mouseClick(dialog.choice_buttons[1], Qt.MouseButton.LeftButton)
    assert len(submissions.args) == 1  # a disabled button signs nothing
    assert dialog.back_button.isEnabled()  # one can still back out

    dialog.show_error("user id or password is wrong")
    assert all(widget.isEnabled() for widget in inputs)
    assert dialog.busy_label.isHidden()
    assert dialog.error_label.isVisible()
    assert dialog.error_label.text() == "✖ user id or password is wrong"
    assert dialog.password_field.text() == ""
    assert dialog.user_id_field.text() == "rph.jane"
    assert dialog.focusWidget() is dialog.password_field

    qtbot.keyClicks(dialog.password_field, "rph-demo-4567")
    _enter(qtbot, dialog.password_field)
    _enter(qtbot, dialog.reason_combo)
    _enter(qtbot, dialog.reason_field)
    assert submissions.args[-1] == ("Approve", "rph.jane", "rph-demo-4567", "")
    assert dialog.error_label.isHidden()


def test_a_cancel_asks_only_for_a_reason(qtbot):
    dialog = _show(qtbot, SignatureDialog(
        title="Cancel this preparation", explanation="Cefazolin 2 g in NS 100 mL for Lee, Min.",
        reasons=("Order discontinued", "Vial dropped"), choices=("Cancel preparation",),
        reason_required=True,
    ))
    assert dialog.user_id_field is None and dialog.password_field is None
    assert dialog.meaning_label is None
    assert dialog.findChildren(QLineEdit) == [dialog.reason_field]
    assert dialog.findChildren(QComboBox) == [dialog.reason_combo]
    assert dialog.focusWidget() is dialog.reason_combo
    _save(dialog, "signature_dialog_cancel.png")
    submissions = Submissions(dialog)

    _enter(qtbot, dialog.reason_combo)
    _enter(qtbot, dialog.reason_field)
    assert submissions.args == []
    assert dialog.error_label.text() == f"✖ {ENTER_REASON}"

    qtbot.keyClicks(dialog.reason_field, "vial cracked on the hood floor")
    _enter(qtbot, dialog.reason_field)
    assert submissions.args == [("Cancel preparation", "", "",
                                 "vial cracked on the hood floor")]
    dialog.show_error("the record could not be written")
    assert dialog.error_label.text() == "✖ the record could not be written"
    assert dialog.reason_field.text() == "vial cracked on the hood floor"


def test_escape_cancels(qtbot):
    dialog = _override(qtbot)
    submissions = Submissions(dialog)
    qtbot.keyClicks(dialog.password_field, "rph-demo-4567")
    with qtbot.waitSignal(dialog.rejected, timeout=1000):
        qtbot.keyClick(dialog.password_field, Qt.Key.Key_Escape)
    assert submissions.args == []
    assert not dialog.isVisible()
    assert dialog.password_field.text() == ""


def test_controls_are_big_enough_for_gloved_hands(qtbot):
    dialog = _check(qtbot)
    assert dialog.width() >= DIALOG_WIDTH  # opened at full size, not squeezed to fit 2/3
    fields = [dialog.user_id_field, dialog.password_field, dialog.reason_combo,
              dialog.reason_field]
    for widget in fields:
        assert widget.height() >= CONTROL_HEIGHT
        assert widget.font().pointSize() >= 22
    for above, below in itertools.pairwise(fields):
        assert below.geometry().top() - above.geometry().bottom() >= 8  # apart, not touching
    for button in [*dialog.choice_buttons, dialog.back_button]:
        assert button.height() >= 80
        assert button.width() >= button.sizeHint().width()  # the whole label shows
        assert button.font().pointSize() >= 22
    assert dialog.explanation_label.font().pointSize() >= 24
    assert dialog.meaning_label is not None
    assert dialog.meaning_label.font().pointSize() >= 24 and dialog.meaning_label.font().bold()

    dialog.reason_combo.showPopup()
    view = dialog.reason_combo.view()
    qtbot.waitUntil(view.isVisible, timeout=2000)
    assert view.visualRect(view.model().index(0, 0)).height() >= 56
    dialog.reason_combo.hidePopup()
