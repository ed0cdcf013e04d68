"""From a scan the acceptance rule has judged to the workflow's ``ProductScanned`` event.

Every scan at the hood goes through here, so every scan is checked against the pharmacy's
recall list (a recalled lot is a hard stop), against the opened vials the station remembers
by lot and serial (one past its beyond-use time is a hard stop), and, when the formulary
does not know the product, against the FDA NDC Directory so the message names it in its
real shape — shown, never accepted.
"""

from __future__ import annotations

import datetime as dt

from station.core.acceptance import Decision
from station.core.opened_vials import check
from station.core.workflow import ProductScanned
from station.records.ndc_directory import NdcDirectory, not_in_formulary_message
from station.records.opened_vials import OpenedVials
from station.records.recalls import RecallList


class ScanEvents:
    """Builds the workflow event for a judged scan, with every check the record can add."""

    def __init__(
        self,
        recalls: RecallList,
        opened_vials: OpenedVials | None = None,
        directory: NdcDirectory | None = None,
    ) -> None:
        self.recalls = recalls
        self.opened_vials = opened_vials
        self.directory = directory

    def event_for(self, decision: Decision, *, user: str, at: dt.datetime) -> ProductScanned:
        """The ``ProductScanned`` event of a decision that has an identity."""
        identity = decision.identity
        if identity is None:
            raise ValueError(f"no product identity to record: {decision.reason}")
        if not decision.accepted:
            problem = decision.reason
            if self.directory is not None:
                problem = not_in_formulary_message(identity, self.directory) or problem
            return ProductScanned(user, at, identity, None, lookup_problem=problem)
        product = decision.product
        assert product is not None
        notice = self.recalls.notice_for(identity, identity.lot)
        vial_problem = None
        if self.opened_vials is not None and identity.lot and identity.serial:
            vial = self.opened_vials.find(product.ndc, identity.lot, identity.serial)
            if vial is not None:
                vial_problem = check(vial, at)
        return ProductScanned(user, at, identity, product, recall_notice=notice,
                              opened_vial_problem=vial_problem)
