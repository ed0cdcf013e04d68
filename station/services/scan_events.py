"""From a scan the acceptance rule has judged to the workflow's ``ProductScanned`` event.

Every scan at the hood goes through here, so every scan is checked against the pharmacy's
recall list with its lot, wherever the lot came from (the barcode, the printed label, typed,
or an opened vial's record; a recalled lot is a hard stop), against the opened vials the
station remembers by lot and serial (one that must not be used is a hard stop), and, when the
formulary does not know the product, against the FDA NDC Directory so the message names it in
its real shape — shown, never accepted.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from station.core.acceptance import Decision
from station.core.components import LotSource
from station.core.opened_vials import check
from station.core.workflow import ProductScanned
from station.records.ndc_directory import NdcDirectory, not_in_formulary_message
from station.records.opened_vials import OpenedVials
from station.records.recalls import RecallList

if TYPE_CHECKING:
    from station.services.opened_vial_use import VialScan


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

    def event_for(self, decision: Decision, *, user: str, at: dt.datetime,
                  lot_source: LotSource | None = None) -> ProductScanned:
        """The ``ProductScanned`` event of a decision that has an identity.

        ``lot_source`` says where the identity's lot and expiry came from when it was not
        the barcode (read from the printed label, or typed).
        """
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
        vial_problem, in_use = None, None
        if self.opened_vials is not None and identity.lot and identity.serial:
            vial = self.opened_vials.find(product.ndc, identity.lot, identity.serial)
            if vial is not None:
                vial_problem, in_use = check(vial, at), vial.in_use
        return ProductScanned(user, at, identity, product, recall_notice=notice,
                              opened_vial_problem=vial_problem, lot_source=lot_source,
                              opened_vial=in_use)

    def event_for_vial(self, scan: VialScan, *, user: str, at: dt.datetime) -> ProductScanned:
        """The ``ProductScanned`` event of an opened vial scanned by the station's own label.

        Its lot and expiry are those recorded at its first puncture; the recall check runs on
        that lot, and a vial that must not be used any more is a hard stop.
        """
        identity = scan.identity
        notice = self.recalls.notice_for(identity, identity.lot)
        return ProductScanned(user, at, identity, scan.product, recall_notice=notice,
                              opened_vial_problem=scan.problem,
                              lot_source=LotSource.OPENED_VIAL, opened_vial=scan.in_use)
