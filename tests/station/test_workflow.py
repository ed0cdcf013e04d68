from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal

import pytest

from station.core.components import LotSource
from station.core.errors import WorkflowError
from station.core.identifiers import Expiry, Lot, Ndc
from station.core.recipe import MassCheck, StepKind
from station.core.scan import parse_scan
from station.core.workflow import (
    EVENT_TYPES,
    TERMINAL_PHASES,
    TRANSITIONS,
    ActionConfirmed,
    Cancelled,
    Event,
    InProcessChecked,
    LabelPrinted,
    LabelScanned,
    Overridden,
    Phase,
    PhotoTaken,
    Preparation,
    ProductScanned,
    Rejected,
    Retried,
    Started,
    StopReason,
    Verified,
    WeightRead,
    apply,
    replay,
)

from .builders import COARSE, NOW, Technician, scan_of

HEPARIN_5000 = "0409-2720-01"
HEPARIN_1000 = "0409-1888-10"
CEFAZOLIN = "0143-9924-90"
KCL = "55150-1234-1"


def finish(tech: Technician, prep: Preparation) -> Preparation:
    return tech.run_until(prep, {Phase.AWAITING_VERIFICATION})


# ------------------------------------------------------------------------------ happy paths


def test_a_single_vial_dose_runs_to_verification_and_release(recipe_for):
    tech = Technician()
    recipe = recipe_for((HEPARIN_5000, "25000 units"))
    prep = finish(tech, tech.start(recipe))
    assert prep.phase is Phase.AWAITING_VERIFICATION
    assert prep.step is None
    assert all(prep.record(s.number).accepted or s.kind is StepKind.PHOTO for s in recipe.steps)
    assert all(prep.record(s.number).good_photos for s in recipe.steps if s.photo_required)
    draw = next(s for s in recipe.steps if s.kind is StepKind.WEIGH_NET)
    result = prep.record(draw.number).accepted.result
    assert result.verdict.value == "pass"
    assert result.measured_dose.unit.value == "units"
    released = apply(prep, Verified("rph.ben", NOW))
    assert released.phase is Phase.VERIFIED
    assert released.decision == Verified("rph.ben", NOW)


def test_replay_of_the_events_gives_the_same_state(recipe_for):
    tech = Technician()
    recipe = recipe_for((CEFAZOLIN, "2 g"))
    prep = finish(tech, tech.start(recipe))
    assert replay("P-0001", recipe, tech.log) == prep
    assert prep.events == tuple(tech.log)


def test_two_vials_and_reconstitution_are_all_weighed(recipe_for):
    tech = Technician()
    recipe = recipe_for((CEFAZOLIN, "2 g"))
    checks = [s.check.value for s in recipe.steps if s.kind is StepKind.WEIGH_NET]
    assert checks == ["diluent", "dose", "diluent", "dose", "delivered", "delivered", "final"]
    prep = finish(tech, tech.start(recipe))
    final = recipe.steps[-3]
    assert final.check.value == "final"
    injected = sum(prep.net_mass(n).grams for n in final.sums)
    assert prep.net_mass(final.number).grams == injected


# ------------------------------------------------------------------------------ hard stops


def first_step(recipe, kind: StepKind, nth: int = 0):
    return [s for s in recipe.steps if s.kind is kind][nth]


def test_wrong_product_stops_names_both_and_cannot_be_overridden(recipe_for, formulary):
    tech = Technician()
    recipe = recipe_for((HEPARIN_5000, "25000 units"))
    prep = tech.advance_to(tech.start(recipe), 3)  # base scanned and weighed
    assert prep.step.title == "Scan Heparin Sodium 5,000 units/mL"
    wrong = formulary.get(Ndc.parse(HEPARIN_1000))
    prep = apply(prep, ProductScanned(tech.user, NOW, scan_of(wrong), wrong))
    assert prep.phase is Phase.HARD_STOP
    assert prep.stop.reason is StopReason.WRONG_PRODUCT
    assert prep.stop.message == (
        "wrong product: scanned Heparin Sodium 1,000 units/mL (NDC 0409-1888-10); this step "
        "needs Heparin Sodium 5,000 units/mL (NDC 0409-2720-01)"
    )
    with pytest.raises(WorkflowError, match=r"^the hard stop 'wrong product' cannot be "
                       r"overridden; redo the step$"):
        apply(prep, Overridden("rph.ben", NOW, "looks fine"))
    prep = apply(prep, Retried(tech.user, NOW))
    prep = tech.do(prep, tech.right_event(prep))
    record = prep.record(first_step(recipe, StepKind.SCAN, 1).number)
    assert [a.accepted for a in record.attempts] == [False, True]
    assert finish(tech, prep).phase is Phase.AWAITING_VERIFICATION


def test_expired_lot_is_a_hard_stop(recipe_for, formulary):
    tech = Technician()
    recipe = recipe_for((HEPARIN_5000, "25000 units"))
    prep = tech.advance_to(tech.start(recipe), 3)
    product = formulary.get(recipe.steps[2].expects[0])
    stale = scan_of(product, lot="OLD1", expiry="261100")  # through 2026-11-30: still good
    assert apply(prep, ProductScanned(tech.user, NOW, stale, product)).phase is Phase.IN_PROGRESS
    expired = scan_of(product, lot="OLD2", expiry="261125")
    stopped = apply(prep, ProductScanned(tech.user, NOW, expired, product))
    assert stopped.stop.reason is StopReason.EXPIRED
    assert stopped.stop.message == "expired: lot OLD2 of Heparin Sodium expired 2026-11-25"


def test_recalled_lot_is_a_hard_stop(recipe_for, formulary):
    tech = Technician()
    recipe = recipe_for((HEPARIN_5000, "25000 units"))
    prep = tech.advance_to(tech.start(recipe), 3)
    product = formulary.get(recipe.steps[2].expects[0])
    event = ProductScanned(tech.user, NOW, scan_of(product, lot="R99"), product,
                           recall_notice="FDA class I recall 2026-11-20")
    stopped = apply(prep, event)
    assert stopped.stop.reason is StopReason.RECALLED
    assert stopped.stop.message == (
        "recalled: lot R99 of Heparin Sodium: FDA class I recall 2026-11-20"
    )


def test_unknown_product_may_be_overridden_by_a_pharmacist_with_a_reason(recipe_for):
    tech = Technician()
    recipe = recipe_for((HEPARIN_5000, "25000 units"))
    prep = tech.start(recipe)
    scan = scan_of(recipe.steps[0].product)
    prep = apply(prep, ProductScanned(tech.user, NOW, scan, None,
                                      lookup_problem="unknown product: NDC 00338-0049-48"))
    assert prep.stop.reason is StopReason.UNKNOWN_PRODUCT
    with pytest.raises(WorkflowError, match=r"^an override needs a reason$"):
        apply(prep, Overridden("rph.ben", NOW, "  "))
    with pytest.raises(WorkflowError, match=r"^the preparer \(tech.ana\) cannot sign the "
                       r"override of their own work$"):
        apply(prep, Overridden("tech.ana", NOW, "bag barcode unreadable"))
    prep = apply(prep, Overridden("rph.ben", NOW, "bag barcode unreadable; label checked"))
    assert prep.phase is Phase.IN_PROGRESS
    assert prep.record(1).override.reason == "bag barcode unreadable; label checked"
    assert prep.step.number == 1, "the step still needs its photo"


@pytest.mark.parametrize(
    ("factor", "phase"),
    [
        (Decimal("1.050"), Phase.IN_PROGRESS),  # exactly at +5 %
        (Decimal("1.049"), Phase.IN_PROGRESS),  # just inside
        (Decimal("0.951"), Phase.IN_PROGRESS),
        (Decimal("1.052"), Phase.HARD_STOP),  # just outside
        (Decimal("0.948"), Phase.HARD_STOP),
        (Decimal("3"), Phase.HARD_STOP),
    ],
)
def test_a_draw_is_judged_against_the_tolerance(recipe_for, factor, phase):
    tech = Technician()
    recipe = recipe_for((HEPARIN_5000, "25000 units"))  # 5 mL, 5.05 g: exact on 0.001 g
    draw = first_step(recipe, StepKind.WEIGH_NET)
    prep = tech.advance_to(tech.start(recipe), draw.number)
    assert prep.step == draw
    after = apply(prep, replace(tech.weight(tech.tare_mass + draw.expected_mass * factor)))
    assert after.phase is phase
    if phase is Phase.HARD_STOP:
        assert after.stop.reason is StopReason.OUT_OF_TOLERANCE
        assert after.stop.message.startswith("out of tolerance: ")


def test_out_of_tolerance_is_redrawn_and_every_attempt_kept(recipe_for):
    tech = Technician()
    recipe = recipe_for((HEPARIN_5000, "25000 units"))
    draw = first_step(recipe, StepKind.WEIGH_NET)
    prep = tech.advance_to(tech.start(recipe), draw.number)
    prep = apply(prep, tech.weight(tech.tare_mass + Decimal("5.700")))
    assert prep.stop.message == (
        "out of tolerance: 5.700 g weighed, 5.141 g expected: +10.9% is outside ±5.0%"
    )
    with pytest.raises(WorkflowError, match=r"^WeightRead is not allowed while the preparation "
                       r"is hard stop$"):
        apply(prep, tech.weight(tech.tare_mass + Decimal("5.050")))
    prep = apply(prep, Retried(tech.user, NOW))
    prep = apply(prep, tech.weight(tech.tare_mass + Decimal("5.060")))
    attempts = prep.record(draw.number).attempts
    assert [a.result.verdict.value for a in attempts] == ["fail", "pass"]
    assert prep.phase is Phase.IN_PROGRESS


def test_small_dose_on_a_coarse_balance_is_not_verifiable_and_needs_a_pharmacist(recipe_for):
    tech = Technician(balance=COARSE)
    recipe = recipe_for((HEPARIN_1000, "500 units"))  # 0.5 mL on a 0.01 g balance
    draw = first_step(recipe, StepKind.WEIGH_NET)
    prep = tech.advance_to(tech.start(recipe), draw.number)
    prep = tech.do(prep, tech.right_event(prep))  # a perfect draw
    assert prep.stop.reason is StopReason.NOT_VERIFIABLE
    assert prep.stop.message.startswith(
        "not verifiable by weight: the balance cannot verify 0.518 g to ±5.0%"
    )
    prep = tech.do(prep, Overridden("rph.ben", NOW, "volume checked in syringe, photo"))
    assert prep.record(draw.number).accepted.result.verdict.value == "not verifiable by weight"
    assert prep.record(draw.number).override.user == "rph.ben"


def test_in_process_check_holds_before_mixing(recipe_for):
    tech = Technician()
    recipe = recipe_for((KCL, "20 mEq"))
    kinds = [s.kind for s in recipe.steps]
    check = kinds.index(StepKind.PHARMACIST_CHECK)
    assert kinds[check - 1] is StepKind.WEIGH_NET and kinds[check + 1] is StepKind.ACTION
    prep = tech.run_until(tech.start(recipe), {Phase.AWAITING_CHECK})
    assert prep.step.number == check + 1
    with pytest.raises(WorkflowError, match=r"^ActionConfirmed is not allowed while the "
                       r"preparation is awaiting in-process check$"):
        apply(prep, ActionConfirmed(tech.user, NOW))
    with pytest.raises(WorkflowError, match=r"^the preparer \(tech.ana\) cannot sign the "
                       r"in-process check of their own work$"):
        apply(prep, InProcessChecked("tech.ana", NOW, approved=True))
    rejected = apply(prep, InProcessChecked("rph.ben", NOW, approved=False, reason="wrong bag"))
    assert rejected.phase is Phase.REJECTED
    passed = apply(prep, InProcessChecked("rph.ben", NOW, approved=True))
    assert passed.phase is Phase.IN_PROGRESS
    assert passed.step.kind is StepKind.ACTION


def test_a_bad_photo_stops_until_retaken(recipe_for):
    tech = Technician()
    prep = tech.start(recipe_for((HEPARIN_5000, "25000 units")))
    prep = tech.do(prep, tech.right_event(prep))  # base scanned; photo outstanding
    blurry = apply(prep, PhotoTaken(tech.user, NOW, "sha256:" + "a" * 64, problem="too blurry"))
    assert blurry.stop.reason is StopReason.BAD_PHOTO
    assert blurry.stop.message == "photo unusable: too blurry; retake it"
    retaken = apply(apply(blurry, Retried(tech.user, NOW)), tech.right_event(prep))
    assert retaken.step.number == 2
    assert len(retaken.record(1).photos) == 2
    assert len(retaken.record(1).good_photos) == 1


def test_the_label_must_be_this_preparations(recipe_for):
    tech = Technician()
    recipe = recipe_for((HEPARIN_5000, "25000 units"))
    label = first_step(recipe, StepKind.LABEL)
    prep = tech.start(recipe)
    while prep.step.number < label.number:
        prep = tech.do(prep, tech.right_event(prep))
    with pytest.raises(WorkflowError, match=r"^the label of P-0001 has not been printed: print "
                       r"it, apply it, then scan it$"):
        apply(prep, LabelScanned(tech.user, NOW, "P-0001"))
    prep = tech.do(prep, tech.label(prep))
    stopped = apply(prep, LabelScanned(tech.user, NOW, "P-9999"))
    assert stopped.stop.reason is StopReason.WRONG_LABEL
    assert stopped.stop.message == "label scanned 'P-9999', but this preparation is 'P-0001'"


def test_final_container_that_did_not_gain_the_injected_mass_stops(recipe_for):
    tech = Technician()
    recipe = recipe_for((HEPARIN_5000, "25000 units"))
    final = next(s for s in recipe.steps if s.sums)
    prep = tech.start(recipe)
    while prep.step.number < final.number:
        prep = tech.do(prep, tech.right_event(prep))
    # Only about half of the syringe reached the bag.
    stopped = apply(prep, tech.weight(tech.tare_mass + Decimal("2.600")))
    assert stopped.stop.reason is StopReason.OUT_OF_TOLERANCE
    # what left the syringe: the 5 mL dose (5.050 g); the builders' technician leaves the
    # 0.09 mL its 10 mL syringe keeps
    assert "2.600 g weighed, 5.050 g expected" in stopped.stop.message


# ------------------------------------------------------------------------------ guards


def test_the_preparer_cannot_verify_their_own_work(recipe_for):
    tech = Technician()
    prep = finish(tech, tech.start(recipe_for((HEPARIN_5000, "25000 units"))))
    with pytest.raises(WorkflowError, match=r"^the preparer \(tech.ana\) cannot sign the "
                       r"verification of their own work$"):
        apply(prep, Verified("tech.ana", NOW))
    with pytest.raises(WorkflowError, match=r"^a rejection needs a reason$"):
        apply(prep, Rejected("rph.ben", NOW, ""))
    rejected = apply(prep, Rejected("rph.ben", NOW, "particulate visible"))
    assert rejected.phase is Phase.REJECTED
    assert prep.phase is Phase.AWAITING_VERIFICATION, "the old state is untouched"


def test_an_event_for_another_step_raises_and_changes_nothing(recipe_for):
    tech = Technician()
    prep = tech.start(recipe_for((HEPARIN_5000, "25000 units")))
    with pytest.raises(WorkflowError, match=r"^step 1 \(Scan the base: Sodium Chloride 0.9% "
                       r"100 mL\) needs a scan, not a weight$"):
        apply(prep, tech.weight(Decimal("105.000")))
    assert prep.record(1).attempts == ()


def test_a_weight_on_another_balance_than_its_reference_is_refused(recipe_for):
    tech = Technician()
    recipe = recipe_for((HEPARIN_5000, "25000 units"))
    draw = first_step(recipe, StepKind.WEIGH_NET)
    prep = tech.advance_to(tech.start(recipe), draw.number)
    other = replace(tech.weight(Decimal("17.050")), balance_id="SBI-0042")
    with pytest.raises(WorkflowError, match=r"weigh both on the same balance$"):
        apply(prep, other)


def test_times_without_offset_are_refused(recipe_for):
    prep = Preparation.new("P-1", recipe_for((HEPARIN_5000, "25000 units")))
    with pytest.raises(WorkflowError, match=r"^Started has a time without a UTC offset$"):
        apply(prep, Started("tech.ana", dt.datetime(2026, 11, 26, 9, 0)))  # noqa: DTZ001


# ------------------------------------------------------------------------------ the whole table


def states_in_every_phase(recipe_for) -> dict[Phase, Preparation]:
    tech = Technician()
    kcl = recipe_for((KCL, "20 mEq"))
    ready = Preparation.new("P-0001", kcl)
    started = tech.start(kcl)
    stopped = apply(started, ProductScanned(tech.user, NOW, scan_of(kcl.steps[0].product), None,
                                            lookup_problem="unknown"))
    awaiting_check = tech.run_until(started, {Phase.AWAITING_CHECK})
    awaiting = finish(tech, awaiting_check)
    return {
        Phase.READY: ready,
        Phase.IN_PROGRESS: started,
        Phase.HARD_STOP: stopped,
        Phase.AWAITING_CHECK: awaiting_check,
        Phase.AWAITING_VERIFICATION: awaiting,
        Phase.VERIFIED: apply(awaiting, Verified("rph.ben", NOW)),
        Phase.REJECTED: apply(awaiting, Rejected("rph.ben", NOW, "cloudy")),
        Phase.CANCELLED: apply(started, Cancelled("tech.ana", NOW, "order discontinued")),
    }


def sample_event(kind: type[Event], prep: Preparation) -> Event:
    who = "rph.ben"
    samples = {
        Started: Started("tech.ana", NOW),
        ProductScanned: ProductScanned("tech.ana", NOW, scan_of(prep.recipe.steps[0].product),
                                       prep.recipe.steps[0].product),
        WeightRead: Technician().weight(Decimal("100.000")),
        PhotoTaken: PhotoTaken("tech.ana", NOW, "sha256:" + "0" * 64),
        ActionConfirmed: ActionConfirmed("tech.ana", NOW),
        LabelPrinted: Technician().label(prep),
        LabelScanned: LabelScanned("tech.ana", NOW, prep.preparation_id),
        Retried: Retried("tech.ana", NOW),
        Overridden: Overridden(who, NOW, "checked by hand"),
        InProcessChecked: InProcessChecked(who, NOW, approved=True),
        Verified: Verified(who, NOW),
        Rejected: Rejected(who, NOW, "wrong volume"),
        Cancelled: Cancelled("tech.ana", NOW, "discontinued"),
    }
    return samples[kind]


def test_every_phase_and_event_pair_is_either_in_the_table_or_refused(recipe_for):
    states = states_in_every_phase(recipe_for)
    assert set(states) == set(Phase)
    legal = 0
    for phase, prep in states.items():
        assert prep.phase is phase
        for kind in EVENT_TYPES:
            event = sample_event(kind, prep)
            transition = TRANSITIONS.get((phase, kind))
            if transition is None:
                with pytest.raises(WorkflowError) as raised:
                    apply(prep, event)
                assert str(raised.value) == (
                    f"{kind.__name__} is not allowed while the preparation is {phase.value}"
                )
                continue
            legal += 1
            try:
                after = apply(prep, event)
            except WorkflowError:
                continue  # legal pair, refused by a guard or the current step: checked above
            assert after.phase in transition.targets
            assert after.events == (*prep.events, event)
    assert legal == len(TRANSITIONS) == 16


def test_terminal_phases_accept_nothing():
    for phase in TERMINAL_PHASES:
        assert not [key for key in TRANSITIONS if key[0] is phase]


def test_cancelling_needs_a_reason_and_ends_the_preparation(recipe_for):
    tech = Technician()
    prep = tech.start(recipe_for((HEPARIN_5000, "25000 units")))
    with pytest.raises(WorkflowError, match=r"^cancelling a preparation needs a reason$"):
        apply(prep, Cancelled(tech.user, NOW, ""))
    cancelled = apply(prep, Cancelled(tech.user, NOW, "order discontinued"))
    assert cancelled.phase is Phase.CANCELLED
    assert cancelled.cancellation.reason == "order discontinued"


def test_a_draw_from_a_reconstituted_vial_uses_the_diluent_as_weighed(recipe_for):
    # 1 g cefazolin: nominal solution 3.03 mL × 1.08 = 3.2724 g, of which 2.5 g diluent.
    recipe = recipe_for((CEFAZOLIN, "1 g"))
    diluent = next(s for s in recipe.steps if s.check is not None and s.check.value == "diluent")
    draw = next(s for s in recipe.steps if s.check is not None and s.check.value == "dose")
    assert draw.reconstituted_by == diluent.number

    def draw_after(diluent_grams: str) -> Preparation:
        tech = Technician()
        prep = tech.advance_to(tech.start(recipe), diluent.number)
        prep = tech.do(prep, tech.weight(tech.tare_mass + Decimal(diluent_grams)))
        prep = tech.advance_to(prep, draw.number)
        # 3 % short of the aim (3.03 mL and the 0.075 mL a 5 mL syringe keeps, × 1.08 =
        # 3.3534 g): inside ±5 % if the vial is as planned.
        return apply(prep, tech.weight(tech.tare_mass + Decimal("3.253")))

    assert draw_after("2.500").phase is Phase.IN_PROGRESS
    diluted = draw_after("2.620")  # +4.8 % diluent: passes its own check, dilutes the drug
    assert diluted.record(diluent.number).accepted is not None
    assert diluted.phase is Phase.HARD_STOP
    assert diluted.stop.reason is StopReason.OUT_OF_TOLERANCE
    measured = diluted.record(draw.number).attempts[-1].result.measured_dose
    # 3.253 g × 0.9999 g of drug ÷ 3.3924 g of solution (3.2724 − 2.5 + 2.620)
    assert measured.value.quantize(Decimal("0.001")) == Decimal("0.959")


# ------------------------------------------------------------------------------ issue-15 rules


def _upc_only(product):
    """A read of the package's linear barcode alone: an NDC, no lot, no expiry."""
    return parse_scan("]E0" + product.ndc.gtin().upc_a, reference_year=2026)


def test_the_right_product_without_lot_and_expiry_is_not_accepted(recipe_for):
    tech = Technician()
    prep = tech.start(recipe_for((HEPARIN_5000, "25000 units")))
    base = prep.step.product
    with pytest.raises(WorkflowError, match=r"the barcode carries no lot and no expiry; its lot "
                       r"and expiry must be read from the printed label or typed twice"):
        apply(prep, ProductScanned(tech.user, NOW, _upc_only(base), base))
    typed = replace(_upc_only(base), lot=Lot("TY77"), expiry=Expiry(dt.date(2027, 5, 31)))
    after = apply(prep, ProductScanned(tech.user, NOW, typed, base, lot_source=LotSource.TYPED))
    accepted = after.record(1).accepted
    assert accepted is not None and accepted.event.source is LotSource.TYPED


def test_a_typed_expired_lot_of_a_linear_only_vial_is_a_hard_stop(recipe_for):
    tech = Technician()
    prep = tech.start(recipe_for((HEPARIN_5000, "25000 units")))
    base = prep.step.product
    typed = replace(_upc_only(base), lot=Lot("OLD1"), expiry=Expiry(dt.date(2026, 11, 25)))
    stopped = apply(prep, ProductScanned(tech.user, NOW, typed, base,
                                         lot_source=LotSource.PRINTED_TEXT))
    assert stopped.stop.reason is StopReason.EXPIRED
    assert stopped.stop.message == ("expired: lot OLD1 of Sodium Chloride 0.9% expired "
                                    "2026-11-25")


def test_a_wrong_product_stops_without_asking_for_its_lot(recipe_for, formulary):
    tech = Technician()
    prep = tech.start(recipe_for((HEPARIN_5000, "25000 units")))
    other = formulary.by_ndc_text(HEPARIN_5000)
    stopped = apply(prep, ProductScanned(tech.user, NOW, _upc_only(other), other))
    assert stopped.stop.reason is StopReason.WRONG_PRODUCT


def test_an_opened_vial_past_its_bud_is_a_stop_no_pharmacist_can_override(recipe_for):
    tech = Technician()
    recipe = recipe_for((HEPARIN_5000, "25000 units"))
    scan = first_step(recipe, StepKind.SCAN, 1)
    prep = tech.advance_to(tech.start(recipe), scan.number)
    problem = "opened vial OV-7, first punctured 2026-11-25T21:29-06:00, is past its beyond-use"
    stopped = apply(prep, ProductScanned(tech.user, NOW, scan_of(scan.product), scan.product,
                                         opened_vial_problem=problem))
    assert stopped.stop.reason is StopReason.OPENED_VIAL_PAST_BUD
    assert stopped.stop.message == problem
    with pytest.raises(WorkflowError, match="cannot be overridden"):
        apply(stopped, Overridden("rph.ben", NOW, "looks fine"))


def test_the_label_prints_only_at_the_label_step_and_reprints_need_a_reason(recipe_for):
    tech = Technician()
    recipe = recipe_for((HEPARIN_5000, "25000 units"))
    final = next(s for s in recipe.steps if s.sums)
    prep = tech.advance_to(tech.start(recipe), final.number)
    with pytest.raises(WorkflowError, match=r"^the label prints at the label step, after every "
                       r"weight has passed; this is step \d+ \(Weigh the final container\)$"):
        apply(prep, tech.label(prep))
    prep = tech.advance(prep, 2)  # the final weight and its photo
    assert prep.step.kind is StepKind.LABEL
    prep = tech.do(prep, tech.label(prep))
    with pytest.raises(WorkflowError, match=r"^printing the label again needs a reason$"):
        apply(prep, tech.label(prep, copy=2))
    with pytest.raises(WorkflowError, match=r"expected copy 2"):
        apply(prep, tech.label(prep, copy=3, reason="torn"))
    prep = tech.do(prep, tech.label(prep, copy=2, reason="label torn while applying"))
    assert [label.copy for label in prep.record(prep.step.number).labels] == [1, 2]


def test_the_bag_is_checked_against_what_left_the_syringe(recipe_for):
    tech = Technician()
    recipe = recipe_for((HEPARIN_5000, "25000 units"))
    emptied = next(s for s in recipe.steps if s.check is MassCheck.DELIVERED)
    prep = tech.advance_to(tech.start(recipe), emptied.number)
    filled = prep.record(emptied.reference).accepted.event.mass.grams
    # 0.400 g stayed in the syringe: 4.650 g of the 5.050 g drawn reached the bag (-7.9 %).
    stopped = apply(prep, tech.weight(filled - Decimal("4.650")))
    assert stopped.stop.reason is StopReason.OUT_OF_TOLERANCE
    # A syringe that keeps 0.03 g in its hub delivers within tolerance; the bag is then
    # expected to gain what was delivered, not what was drawn.
    prep = tech.do(prep, tech.weight(filled - Decimal("5.020")))
    assert prep.net_mass(emptied.number).grams == Decimal("5.020")
    final = next(s for s in recipe.steps if s.sums)
    prep = tech.advance_to(prep, final.number)
    bag = prep.record(final.reference).accepted.event.mass.grams
    passed = apply(prep, tech.weight(bag + Decimal("5.020")))
    assert passed.stop is None
    assert passed.net_mass(final.number).grams == Decimal("5.020")


def test_an_accepted_overdraw_must_reach_the_bag_whole_and_is_not_stopped_again(recipe_for):
    tech = Technician()
    recipe = recipe_for((HEPARIN_5000, "25000 units"))
    draw = next(s for s in recipe.steps if s.check is MassCheck.DOSE)
    prep = tech.advance_to(tech.start(recipe), draw.number)
    stopped = apply(prep, tech.weight(tech.tare_mass + Decimal("5.600")))  # +10.9 %
    assert stopped.stop.reason is StopReason.OUT_OF_TOLERANCE
    prep = apply(stopped, Overridden("rph.ben", NOW, "5.5 mL ordered by phone; order to follow"))
    emptied = next(s for s in recipe.steps if s.check is MassCheck.DELIVERED)
    prep = tech.advance_to(prep, emptied.number)
    assert apply(prep, tech.weight(tech.tare_mass)).stop is None
    short = apply(prep, tech.weight(tech.tare_mass + Decimal("0.400")))
    assert short.stop.reason is StopReason.OUT_OF_TOLERANCE
    assert "5.200 g weighed, 5.600 g expected" in short.stop.message
