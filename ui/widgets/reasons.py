"""The reasons a dialog offers: an override, an in-process check, a cancel, a reprint, a discard.

A person may always type another; these are the ones a pharmacy gives most often.
"""

OVERRIDE_REASONS = (
    "Dose checked by volume against the syringe markings",
    "Balance cannot resolve this volume; checked by a second person",
    "Barcode unreadable; product identity checked by the pharmacist",
    "Order tolerance reviewed with the prescriber",
)
CHECK_REASONS = (
    "Wrong drug or strength drawn",
    "Wrong volume drawn",
    "Particulates or discoloration seen",
    "Wrong diluent or base",
)
CANCEL_REASONS = (
    "Order discontinued",
    "Order changed by the prescriber",
    "Product or supplies unavailable",
    "Contamination or breach of aseptic technique",
    "Started by mistake",
)
APPROVE, REJECT = "Approve", "Reject"
REPRINT_REASONS = (
    "Label damaged or smudged",
    "Printer jammed or printed blank",
    "Label came off the container",
    "Printed on the wrong label stock",
)
DISCARD_REASONS = (
    "Past its beyond-use time",
    "Empty, or too little left for a dose",
    "Contamination suspected",
    "Label unreadable or missing",
    "Particulates or discoloration seen",
)
