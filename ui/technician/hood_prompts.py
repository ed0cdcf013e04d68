"""The hood's prompts as dialogs: an override, an in-process check, a cancel, a reason.

Besides a pharmacist's signatures and a cancel, a technician gives a reason to print the
label again and to throw an opened vial away; those dialogs close as soon as they are
answered (the hood's refusal, if any, shows on the screen's message line).

:class:`DialogPrompts` implements :class:`~ui.technician.preparation_presenter.Prompts` with a
:class:`~ui.widgets.signature_dialog.SignatureDialog`, opened window-modal without blocking the
event loop. The dialog only collects the answer; the hood worker checks the pharmacist's
password on its own thread. A refused signature or input comes back as an error in the
dialog; the dialog closes when the preparation moves on.
"""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from station.core.workflow import Phase
from ui.technician.preparation_presenter import PreparationPresenter, PreparationScreenState
from ui.widgets.reasons import (
    APPROVE,
    CANCEL_REASONS,
    CHECK_REASONS,
    DISCARD_REASONS,
    OVERRIDE_REASONS,
    REJECT,
    REPRINT_REASONS,
)
from ui.widgets.signature_dialog import SignatureDialog
from ui.workers.hood_worker import HoodWorker


class DialogPrompts:
    """Opens the dialogs; :meth:`attach` gives it the window, presenter and worker."""

    def __init__(self) -> None:
        self._parent: QWidget | None = None
        self._presenter: PreparationPresenter | None = None
        self.dialog: SignatureDialog | None = None
        self._waiting_for: set[Phase | None] = set()

    def attach(self, parent: QWidget, presenter: PreparationPresenter,
               worker: HoodWorker) -> None:
        """Connect to the window (dialogs' parent), the presenter and the hood worker."""
        self._parent, self._presenter = parent, presenter
        worker.signature_failed.connect(self._on_error)
        worker.refused.connect(self._on_error)
        presenter.state_changed.connect(self._on_state_changed)

    # ------------------------------------------------------------ Prompts

    def ask_override(self, explanation: str) -> None:
        """A pharmacist's credentials and reason to accept the stopped attempt."""
        dialog = self._open(SignatureDialog(
            title="Pharmacist override", explanation=explanation, meaning="override-approved",
            reasons=OVERRIDE_REASONS, choices=("Approve the override",), reason_required=True,
            parent=self._parent), leave={Phase.HARD_STOP})
        dialog.submitted.connect(
            lambda _choice, user, password, reason: self._need_presenter().submit_override(
                user, password, reason))

    def ask_in_process_check(self, explanation: str) -> None:
        """A pharmacist's credentials, approve or reject with a reason."""
        dialog = self._open(SignatureDialog(
            title="In-process check", explanation=explanation, meaning="in-process-checked",
            reasons=CHECK_REASONS, choices=(APPROVE, REJECT), reason_required=False,
            parent=self._parent), leave={Phase.AWAITING_CHECK})
        dialog.submitted.connect(
            lambda choice, user, password, reason: self._need_presenter().submit_check(
                user, password, choice == APPROVE, reason))

    def ask_cancel(self, explanation: str) -> None:
        """A reason to abandon the preparation."""
        dialog = self._open(SignatureDialog(
            title="Cancel the preparation", explanation=explanation, meaning=None,
            reasons=CANCEL_REASONS, choices=("Cancel the preparation",), reason_required=True,
            parent=self._parent), leave={Phase.IN_PROGRESS, Phase.HARD_STOP,
                                         Phase.AWAITING_CHECK})
        dialog.submitted.connect(
            lambda _choice, _user, _password, reason: self._need_presenter().submit_cancel(
                reason))

    def ask_reprint(self, explanation: str) -> None:
        """Why the label is printed again."""
        dialog = self._open(SignatureDialog(
            title="Print the label again", explanation=explanation, meaning=None,
            reasons=REPRINT_REASONS, choices=("Print it again",), reason_required=True,
            parent=self._parent), leave={Phase.IN_PROGRESS})

        def answer(_choice: str, _user: str, _password: str, reason: str) -> None:
            dialog.accept()
            self._need_presenter().submit_reprint(reason)

        dialog.submitted.connect(answer)

    def ask_discard(self, key: str, explanation: str) -> None:
        """Why the opened vial ``key`` is thrown away."""
        dialog = self._open(SignatureDialog(
            title="Throw away an opened vial", explanation=explanation, meaning=None,
            reasons=DISCARD_REASONS, choices=("Throw it away",), reason_required=True,
            parent=self._parent), leave={Phase.IN_PROGRESS, Phase.HARD_STOP,
                                         Phase.AWAITING_CHECK})

        def answer(_choice: str, _user: str, _password: str, reason: str) -> None:
            dialog.accept()
            self._need_presenter().submit_discard(key, reason)

        dialog.submitted.connect(answer)

    # ------------------------------------------------------------ helpers

    def _open(self, dialog: SignatureDialog, *, leave: set[Phase]) -> SignatureDialog:
        if self.dialog is not None:
            self.dialog.reject()
        self.dialog = dialog
        self._waiting_for = set(leave)
        dialog.finished.connect(lambda _result: self._forget(dialog))
        dialog.open()
        return dialog

    def _forget(self, dialog: SignatureDialog) -> None:
        if self.dialog is dialog:
            self.dialog = None
        dialog.deleteLater()

    def _on_error(self, message: str) -> None:
        if self.dialog is not None:
            self.dialog.show_error(message)

    def _on_state_changed(self, state: PreparationScreenState) -> None:
        if self.dialog is not None and state.phase not in self._waiting_for:
            self.dialog.accept()

    def _need_presenter(self) -> PreparationPresenter:
        assert self._presenter is not None, "attach() the prompts first"
        return self._presenter
