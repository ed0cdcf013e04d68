"""The "Simulated hood" side panel, shown only in demo mode: your hands at a hood that isn't.

A new user acts out a preparation with the mouse: "Do the next step right" puts the right
thing on the simulated balance or in front of the simulated camera (through
:class:`~station.demo.hood.DemoHood`), and the station reads it with its real driver,
decoder and photo check, as it would at a real hood. The other buttons make a deliberate
mistake — the wrong vial, an expired lot, too much drawn, a blurred camera — or pull the
balance's cable, so the user sees the station stop.

The window calls :meth:`DemoPanel.set_state` with each new :class:`~station.services.hood.HoodView`;
buttons that make no sense for the step are disabled. When the technician would scan with
the handheld (the printed label), the panel emits ``handheld_scanned(text)`` and the window
routes it like a real scanner read. Every call into the demo hood is in-memory and quick, so
it runs on the GUI thread.
"""

from __future__ import annotations

from decimal import Decimal

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from station.core.workflow import Preparation
from station.demo.hood import DOSE_ERROR_BANDS, DemoHood, Mistake
from station.services.hood import HoodView, NextAction
from ui.widgets.look import font, text_label

BUTTON_PT = 16
TEXT_PT = 14
TITLE_PT = 20
BUTTON_HEIGHT = 60
PANEL_WIDTH = 420

EXPLANATION = (
    "Demo mode: there is no real hood. These buttons are your hands. They put things on the "
    "simulated balance and in front of the simulated camera, and the station reads them as "
    "it would real ones. Try a mistake to see the station stop it."
)
UNPLUG = "Unplug the balance"
REPLUG = "Plug the balance back in"
DRAW_TOO_MUCH = "Draw too much"

# What to do where the hood has nothing physical to act out.
_ELSEWHERE = {
    NextAction.START: "Start a preparation from the worklist.",
    NextAction.CONFIRM: "Do it in the station window: press Confirm.",
    NextAction.IDENTIFY_LOT: ("Check the lot in the station window: Enter if it is the "
                              "package's, T to type it."),
    NextAction.PRINT_LABEL: "Print the label in the station window: press Enter or P.",
    NextAction.RETRY: "The station stopped: press Retry in the station window.",
    NextAction.RETRY_OR_OVERRIDE: (
        "The station stopped: press Retry in the station window, or a pharmacist overrides."),
    NextAction.PHARMACIST_CHECK: "A pharmacist checks the doses: nothing to do at the hood.",
    NextAction.VERIFY: "A pharmacist verifies the preparation: nothing to do at the hood.",
    NextAction.DONE: "The preparation is finished.",
}

_BUTTON_STYLE = (
    "QPushButton { background: #eceff1; color: #000000; border: 2px solid #455a64;"
    " border-radius: 6px; padding: 6px 12px; text-align: left; }"
    " QPushButton:disabled { background: #f5f5f5; color: #9e9e9e; border-color: #cfd8dc; }"
)
_UNPLUGGED_STYLE = (
    "QPushButton { background: #ffc107; color: #000000; border: 2px solid #000000;"
    " border-radius: 6px; padding: 6px 12px; text-align: left; font-weight: bold; }"
)
_RIGHT_STYLE = (
    "QPushButton { background: #1b5e20; color: #ffffff; border: 2px solid #0d3010;"
    " border-radius: 6px; padding: 6px 12px; text-align: left; font-weight: bold; }"
    " QPushButton:disabled { background: #f5f5f5; color: #9e9e9e; border-color: #cfd8dc; }"
)
_MISTAKE_STYLE = (
    "QPushButton { background: #fff3e0; color: #000000; border: 2px solid #e65100;"
    " border-radius: 6px; padding: 6px 12px; text-align: left; }"
    " QPushButton:disabled { background: #f5f5f5; color: #9e9e9e; border-color: #cfd8dc; }"
)



class DemoPanel(QWidget):
    """Buttons that act out the next step at the simulated hood, right or wrong."""

    handheld_scanned = Signal(str)

    def __init__(self, hood: DemoHood, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._hood = hood
        self._view: HoodView | None = None
        self._prep: Preparation | None = None
        self.setObjectName("demo_panel")
        self.setMinimumWidth(PANEL_WIDTH)
        self.setMaximumWidth(PANEL_WIDTH)
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setStyleSheet("#demo_panel { background: #fafafa; border-left: 4px solid #ff8f00; }")

        title = self._label("title_label", "Simulated hood", TITLE_PT, bold=True)
        explanation = self._label("explanation_label", EXPLANATION, TEXT_PT)
        explanation.setStyleSheet(
            "QLabel { background: #fff8e1; color: #000000; border: 2px solid #ff8f00;"
            " padding: 8px 10px; }")
        self.next_label = self._label("next_label", "", TEXT_PT, bold=True)
        self.status_label = self._label("status_label", "", TEXT_PT)
        self.status_label.setStyleSheet("QLabel { color: #263238; }")

        self.right_button = self._button(
            "right_button", "✔ Do the next step right", _RIGHT_STYLE,
            "Act out what the station asks for next, the right way.")
        self.wrong_vial_button = self._button(
            "wrong_vial_button", "Show the wrong vial", _MISTAKE_STYLE,
            "Show the camera a package of another drug: the station must refuse it.")
        self.expired_button = self._button(
            "expired_button", "Show an expired lot", _MISTAKE_STYLE,
            "Show the camera the right product from a lot that has expired.")
        self.dose_high_button = self._button(
            "dose_high_button", DRAW_TOO_MUCH, _MISTAKE_STYLE,
            "Put a syringe or container with too much in it on the balance.")
        self.blur_button = self._button(
            "blur_button", "Blur the camera", _MISTAKE_STYLE,
            "Defocus the camera: the photo must be refused.")
        self.empty_pan_button = self._button(
            "empty_pan_button", "Empty the pan", _BUTTON_STYLE,
            "Take everything off the balance.")
        self.plug_button = self._button(
            "plug_button", UNPLUG, _BUTTON_STYLE,
            "Pull the balance's cable, or plug it back in.")

        self.right_button.clicked.connect(self._on_right_clicked)
        self.wrong_vial_button.clicked.connect(self._on_wrong_vial_clicked)
        self.expired_button.clicked.connect(self._on_expired_clicked)
        self.dose_high_button.clicked.connect(self._on_dose_high_clicked)
        self.blur_button.clicked.connect(self._on_blur_clicked)
        self.empty_pan_button.clicked.connect(self._on_empty_pan_clicked)
        self.plug_button.clicked.connect(self._on_plug_clicked)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 16, 16, 16)
        layout.setSpacing(10)
        layout.addWidget(title)
        layout.addWidget(explanation)
        layout.addWidget(self.next_label)
        layout.addWidget(self.right_button)
        layout.addSpacing(6)
        layout.addWidget(self._label("mistakes_label", "Make a mistake:", TEXT_PT, bold=True))
        for button in (self.wrong_vial_button, self.expired_button, self.dose_high_button,
                       self.blur_button):
            layout.addWidget(button)
        layout.addSpacing(6)
        layout.addWidget(self._label("devices_label", "Hands on the devices:", TEXT_PT,
                                     bold=True))
        layout.addWidget(self.empty_pan_button)
        layout.addWidget(self.plug_button)
        layout.addWidget(self.status_label)
        layout.addStretch(1)

        self._mistake_buttons = {
            Mistake.WRONG_PRODUCT: self.wrong_vial_button,
            Mistake.EXPIRED_LOT: self.expired_button,
            Mistake.DOSE_HIGH: self.dose_high_button,
            Mistake.BLURRY: self.blur_button,
        }
        self._refresh()

    # ------------------------------------------------------------------ building

    def _say(self, label: QLabel, text: str) -> None:
        """Set a wrapped label's text and reserve the height it needs at the panel's width.

        In a scroll area Qt does not ask a wrapped label for its height at the given width,
        so without this a long line would overlap the widget below it.
        """
        label.setText(text)
        label.setMinimumHeight(max(0, label.heightForWidth(PANEL_WIDTH - 32)))

    def _label(self, name: str, text: str, points: int, *, bold: bool = False) -> QLabel:
        label = text_label(self, name, points, text, bold=bold)
        label.setMinimumHeight(max(0, label.heightForWidth(PANEL_WIDTH - 32)))
        return label

    def _button(self, name: str, text: str, style: str, tip: str) -> QPushButton:
        button = QPushButton(text, self)
        button.setObjectName(name)
        button.setFont(font(BUTTON_PT))
        button.setMinimumHeight(BUTTON_HEIGHT)
        button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        button.setStyleSheet(style)
        button.setToolTip(tip)
        button.setAccessibleName(text)
        button.setAutoDefault(False)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # scanner keystrokes stay in the window
        return button

    # ------------------------------------------------------------------ state

    @Slot(object, object)
    def set_state(self, view: HoodView, prep: Preparation | None) -> None:
        """Show what the station asks for now and enable the buttons that apply."""
        self._view, self._prep = view, prep
        self._refresh()

    def _refresh(self) -> None:
        view, prep = self._view, self._prep
        mistakes = self._hood.mistakes_for(view, prep) if view is not None else frozenset()
        for mistake, button in self._mistake_buttons.items():
            button.setEnabled(mistake in mistakes)
        self.dose_high_button.setText(_too_much_text(view) if Mistake.DOSE_HIGH in mistakes
                                      else DRAW_TOO_MUCH)
        doing = self._hood.describe(view, prep) if view is not None else ""
        self.right_button.setEnabled(bool(doing))
        if view is None:
            self._say(self.next_label, "Start a preparation from the worklist.")
        elif doing:
            self._say(self.next_label, f"Next: {doing}.")
        else:
            self._say(self.next_label, _ELSEWHERE.get(view.next_action, ""))
        state = self._hood.state
        self.plug_button.setText(UNPLUG if state.balance_plugged else f"⚠ {REPLUG}")
        self.plug_button.setStyleSheet(_BUTTON_STYLE if state.balance_plugged
                                       else _UNPLUGGED_STYLE)
        self.plug_button.setAccessibleName(self.plug_button.text())
        cable = "" if state.balance_plugged else "\nThe balance is UNPLUGGED."
        blur = ", out of focus" if state.blur else ""
        self._say(self.status_label, f"On the pan: {state.on_pan}.\n"
                                  f"In view: {state.in_view}{blur}.{cable}")

    # ------------------------------------------------------------------ acting

    def _act(self, mistake: Mistake | None) -> None:
        view = self._view
        if view is None:
            return
        try:
            text = self._hood.perform(view, self._prep, mistake)
        except ValueError as error:  # a mistake that no longer applies
            self._say(self.next_label, str(error))
            return
        self._refresh()
        if text is not None:
            self.handheld_scanned.emit(text)

    def _on_right_clicked(self) -> None:
        self._act(None)

    def _on_wrong_vial_clicked(self) -> None:
        self._act(Mistake.WRONG_PRODUCT)

    def _on_expired_clicked(self) -> None:
        self._act(Mistake.EXPIRED_LOT)

    def _on_dose_high_clicked(self) -> None:
        self._act(Mistake.DOSE_HIGH)

    def _on_blur_clicked(self) -> None:
        self._act(Mistake.BLURRY)

    def _on_empty_pan_clicked(self) -> None:
        self._hood.empty_pan()
        self._refresh()

    def _on_plug_clicked(self) -> None:
        try:
            if self._hood.state.balance_plugged:
                self._hood.unplug_balance()
            else:
                self._hood.replug_balance()
        except (OSError, RuntimeError) as error:  # the simulator did not answer
            self._say(self.status_label, f"The cable did not move: {error}")
            return
        self._refresh()


def _too_much_text(view: HoodView | None) -> str:
    """'Draw 15 % too much': the share of the expected net that the mistake adds."""
    if view is None or view.expected_reading is None or view.band_high is None or (
            not view.expected_net):
        return DRAW_TOO_MUCH
    share = DOSE_ERROR_BANDS * (view.band_high - view.expected_reading) / view.expected_net
    percent = (share * 100).quantize(Decimal(1))
    return f"Draw {percent} % too much"
