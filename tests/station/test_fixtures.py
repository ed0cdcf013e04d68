"""The sample data in fixtures/ loads through the real loaders and hangs together.

Also the loaders' messages for broken files, word for word, on small TOML documents.
"""

from __future__ import annotations

import tomllib
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from station.core.formulary import Formulary, FormularyError, Product, ProductRole, Storage
from station.core.orders import OrderFileError, Priority, Worklist, order_to_mapping
from station.core.quantities import Tolerance, Unit
from station.core.recipe import build_recipe
from station.core.scan import parse_scan

FIXTURES = Path(__file__).parents[2] / "fixtures"
SITE_TOLERANCE = Tolerance(Decimal("0.05"))


def _read(name: str) -> dict[str, object]:
    with (FIXTURES / name).open("rb") as handle:
        return tomllib.load(handle)


@pytest.fixture(scope="module")
def sample_formulary() -> Formulary:
    return Formulary.from_mapping(_read("formulary.toml"))


@pytest.fixture(scope="module")
def sample_worklist() -> Worklist:
    return Worklist.from_mapping(_read("worklist.toml"))


def _drug_volume_ml(formulary: Formulary, ingredient) -> Decimal:
    product = formulary.by_ndc(ingredient.ndc)
    assert product.concentration is not None
    return product.concentration.volume_for(ingredient.dose)


# ------------------------------------------------------------------------------ formulary


def test_formulary_has_at_least_30_products(sample_formulary):
    assert len(sample_formulary) >= 30


@pytest.mark.parametrize("shape", [(4, 4, 2), (5, 3, 2), (5, 4, 1)])
def test_each_ten_digit_ndc_shape_appears_at_least_three_times(sample_formulary, shape):
    shapes = Counter(product.ndc.shape for product in sample_formulary)
    assert shapes[shape] >= 3


def test_every_role_is_present(sample_formulary):
    assert {product.role for product in sample_formulary} == set(ProductRole)


def test_drugs_have_a_concentration_and_bases_and_diluents_none(sample_formulary):
    for product in sample_formulary:
        has_concentration = product.concentration is not None
        assert has_concentration is (product.role is ProductRole.DRUG), product.label


def test_reconstitution_diluents_are_diluents_of_this_formulary(sample_formulary):
    powders = [p for p in sample_formulary if p.reconstitution is not None]
    assert len(powders) >= 6
    for powder in powders:
        assert powder.reconstitution is not None
        assert powder.role is ProductRole.DRUG
        for ndc in powder.reconstitution.diluents:
            diluent = sample_formulary.get(ndc)
            assert diluent is not None, f"{powder.label}: diluent {ndc} not in the formulary"
            assert diluent.role is ProductRole.DILUENT, f"{powder.label}: {diluent.label}"
        preferred = sample_formulary.by_ndc(powder.reconstitution.diluents[0])
        assert powder.reconstitution.volume_ml <= preferred.container_volume_ml, powder.label


def test_hazardous_high_alert_and_in_process_products_are_present(sample_formulary):
    products = list(sample_formulary)
    hazardous = [p for p in products if p.hazardous]
    assert len(hazardous) >= 5
    assert any(p.in_process_check for p in hazardous)
    assert any(p.reconstitution is not None for p in hazardous)
    assert len([p for p in products if p.high_alert and not p.hazardous]) >= 5
    assert any(p.in_process_check and not p.hazardous for p in products)


def test_concentrated_potassium_and_insulin_need_a_pharmacist_check(sample_formulary):
    potassium = [p for p in sample_formulary if p.name.startswith("Potassium Chloride")]
    insulin = [p for p in sample_formulary if p.name.startswith("Insulin")]
    assert potassium
    assert insulin
    for product in potassium:
        assert str(product.concentration) == "2 mEq/mL"
        assert product.high_alert
        assert product.in_process_check
    for product in insulin:
        assert str(product.concentration) == "100 units/mL"
        assert product.high_alert
        assert product.in_process_check
        assert product.multi_dose
        assert product.storage is Storage.REFRIGERATED


def test_specific_gravities_are_sourced_for_water_saline_and_potassium(sample_formulary):
    for product in sample_formulary:
        if product.name.startswith(("Sterile Water", "Sodium Chloride 0.9%", "Potassium")):
            assert not product.specific_gravity.is_estimate, product.label
    potassium = next(p for p in sample_formulary if p.name.startswith("Potassium"))
    saline = next(p for p in sample_formulary if p.name.startswith("Sodium Chloride 0.9%"))
    assert potassium.specific_gravity.value > saline.specific_gravity.value
    assert any(p.specific_gravity.is_estimate for p in sample_formulary)


def test_every_product_resolves_from_its_upc_a(sample_formulary):
    for product in sample_formulary:
        gtin = product.ndc.gtin()
        assert gtin is not None, product.label
        upc_a = gtin.value[2:]
        identity = parse_scan(upc_a, reference_year=2026)
        assert sample_formulary.resolve(identity) is product, product.label


def test_an_explicit_carton_gtin_resolves_to_its_product(sample_formulary):
    with_gtin = [p for p in sample_formulary if p.gtin is not None]
    assert with_gtin
    for product in with_gtin:
        assert product.gtin is not None
        identity = parse_scan(product.gtin.value, reference_year=2026)
        assert sample_formulary.resolve(identity) is product


# ------------------------------------------------------------------------------ worklist


def test_worklist_has_at_least_12_orders(sample_worklist):
    assert len(sample_worklist) >= 12


def test_orders_name_only_formulary_products_in_the_right_role(sample_formulary, sample_worklist):
    for order in sample_worklist:
        if order.base is not None:
            base = sample_formulary.get(order.base)
            assert base is not None, f"{order.order_id}: base {order.base}"
            assert base.role is ProductRole.BASE, f"{order.order_id}: {base.label}"
        for ingredient in order.ingredients:
            drug = sample_formulary.get(ingredient.ndc)
            assert drug is not None, f"{order.order_id}: ingredient {ingredient.ndc}"
            assert drug.role is ProductRole.DRUG, f"{order.order_id}: {drug.label}"


def test_worklist_puts_stat_first_then_urgent_then_routine_each_by_due_time(sample_worklist):
    orders = list(sample_worklist)
    assert orders[0].priority is Priority.STAT
    keys = [(order.priority.rank, order.due) for order in orders]
    assert keys == sorted(keys)
    assert {order.priority for order in orders} == set(Priority)


def test_the_stat_orders_are_not_first_in_the_file():
    entries = _read("worklist.toml")["order"]
    assert isinstance(entries, list)
    assert entries[0]["priority"] != "stat"


def test_drug_volume_plus_base_volume_is_the_final_volume(sample_formulary, sample_worklist):
    for order in sample_worklist:
        drug_volume = sum(_drug_volume_ml(sample_formulary, i) for i in order.ingredients)
        base_volume = sample_formulary.by_ndc(order.base).container_volume_ml if order.base else 0
        assert abs(base_volume + drug_volume - order.final_volume_ml) < Decimal("0.01"), (
            order.order_id
        )


def test_every_order_can_be_planned(sample_formulary, sample_worklist):
    for order in sample_worklist:
        recipe = build_recipe(order, sample_formulary, SITE_TOLERANCE)
        assert recipe.steps, order.order_id


def test_worklist_covers_the_cases_the_station_must_handle(sample_formulary, sample_worklist):
    orders = list(sample_worklist)

    def products(order) -> list[Product]:
        return [sample_formulary.by_ndc(i.ndc) for i in order.ingredients]

    def needs_two_vials(order) -> bool:
        return any(
            _drug_volume_ml(sample_formulary, i)
            > sample_formulary.by_ndc(i.ndc).container_volume_ml
            for i in order.ingredients
        )

    def is_drip(order, drug: str, unit: Unit) -> bool:
        return (
            any(
                p.name.startswith(drug) and i.dose.unit is unit
                for p, i in zip(products(order), order.ingredients, strict=True)
            )
            and order.base is not None
        )

    assert any(needs_two_vials(o) for o in orders)
    assert any(any(p.reconstitution is not None for p in products(o)) for o in orders)
    assert any(is_drip(o, "Heparin", Unit.UNIT) for o in orders)
    assert any(is_drip(o, "Potassium Chloride", Unit.MEQ) for o in orders)
    insulin = [o for o in orders if is_drip(o, "Insulin", Unit.UNIT)]
    assert any(o.ingredients[0].dose.value == 100 and o.final_volume_ml <= 101 for o in insulin)
    assert any(any(p.hazardous for p in products(o)) for o in orders)
    assert any(o.priority is Priority.STAT for o in orders)
    assert any(len(o.ingredients) == 2 for o in orders)
    assert any(
        o.base is None and _drug_volume_ml(sample_formulary, o.ingredients[0]) < 1 for o in orders
    )


# ------------------------------------------------------------------- formulary messages

SALINE = """
[[product]]
ndc = "0409-4888-10"
name = "Sodium Chloride 0.9%"
manufacturer = "Hospira"
strength = "10 mL"
dosage_form = "injection, solution"
role = "diluent"
specific_gravity = "1.005"
container_volume_ml = "10"
"""


def _formulary_error(text: str) -> str:
    with pytest.raises(FormularyError) as raised:
        Formulary.from_mapping(tomllib.loads(text))
    return str(raised.value)


def test_the_sample_saline_entry_itself_loads():
    assert len(Formulary.from_mapping(tomllib.loads(SALINE))) == 1


def test_an_unknown_product_field_is_named():
    assert (
        _formulary_error(SALINE + 'colour = "clear"\n')
        == "product 1 (NDC 0409-4888-10): unknown field(s) colour"
    )


def test_a_missing_product_field_is_named():
    text = SALINE.replace('container_volume_ml = "10"\n', "")
    assert (
        _formulary_error(text)
        == "product 1 (NDC 0409-4888-10): missing field container_volume_ml"
    )


def test_an_ndc_without_hyphens_is_refused():
    text = SALINE.replace('"0409-4888-10"', '"0409488810"')
    assert _formulary_error(text) == (
        "product 1 (NDC 0409488810): NDC '0409488810' must be written with hyphens in its "
        "real shape"
    )


def test_the_same_package_in_two_shapes_is_a_duplicate():
    first = SALINE.replace("0409-4888-10", "0409-4888-02")
    second = SALINE.replace("0409-4888-10", "00409-4888-02")
    assert (
        _formulary_error(first + second)
        == "NDC 00409-4888-02 appears twice in the formulary (also as 0409-4888-02)"
    )


def test_the_same_ndc_written_twice_is_a_duplicate():
    assert _formulary_error(SALINE + SALINE) == "NDC 0409-4888-10 appears twice in the formulary"


def test_a_drug_without_a_concentration_is_refused():
    text = SALINE.replace('role = "diluent"', 'role = "drug"')
    assert _formulary_error(text) == (
        "product 1 (NDC 0409-4888-10): a drug needs a concentration per mL (after reconstitution)"
    )


def test_an_unknown_role_lists_the_roles():
    text = SALINE.replace('role = "diluent"', 'role = "solvent"')
    assert (
        _formulary_error(text)
        == "product 1 (NDC 0409-4888-10): role 'solvent' is not one of drug, base, diluent"
    )


def test_an_unknown_storage_lists_the_choices():
    text = SALINE + 'storage = "cold"\n'
    assert _formulary_error(text) == (
        "product 1 (NDC 0409-4888-10): storage 'cold' is not one of room, refrigerated, frozen"
    )


def test_a_specific_gravity_written_as_a_float_is_refused():
    text = SALINE.replace('"1.005"', "1.005")
    assert _formulary_error(text) == (
        "product 1 (NDC 0409-4888-10): specific gravity 1.005 must be written as text or an "
        "integer, not a float"
    )


# ---------------------------------------------------------------------- order messages

ORDER = """
[[order]]
order_id = "RX1"
priority = "routine"
due = 2026-11-26T14:00:00Z
prescriber = "Dr. Lee"
route = "IV"
final_volume_ml = "60"
base = "0338-0049-41"

[order.patient]
id = "MRN1"
name = "Doe, Jane"
location = "4W/412/A"

[[order.ingredient]]
ndc = "0781-3208-95"
dose = "1 g"
"""


def _order_error(text: str) -> str:
    with pytest.raises(OrderFileError) as raised:
        Worklist.from_mapping(tomllib.loads(text))
    return str(raised.value)


def test_the_sample_order_itself_loads():
    assert len(Worklist.from_mapping(tomllib.loads(ORDER))) == 1


def test_an_order_id_used_twice_is_refused():
    assert _order_error(ORDER + ORDER) == "order id(s) used twice: RX1"


def test_a_due_time_without_offset_is_refused():
    text = ORDER.replace("2026-11-26T14:00:00Z", "2026-11-26T14:00:00")
    assert _order_error(text) == "order 1 (RX1): due time needs a UTC offset"


def test_a_missing_order_field_is_named():
    text = ORDER.replace('prescriber = "Dr. Lee"\n', "")
    assert _order_error(text) == "order 1 (RX1): missing field prescriber"


def test_an_unknown_priority_lists_the_priorities():
    text = ORDER.replace('priority = "routine"', 'priority = "asap"')
    assert (
        _order_error(text) == "order 1 (RX1): priority 'asap' is not one of stat, urgent, routine"
    )


def test_a_weight_written_as_a_float_is_refused():
    text = ORDER.replace('location = "4W/412/A"', 'location = "4W/412/A"\nweight_kg = 72.5')
    assert _order_error(text) == (
        "order 1 (RX1): weight 72.5 must be written as text or an integer, not a float"
    )


# ------------------------------------------------------------------- strictness


def test_a_misspelt_order_field_is_refused_not_ignored():
    text = ORDER.replace('priority = "routine"', 'priorty = "stat"')
    assert _order_error(text) == "order 1 (RX1): unknown field(s) priorty"


def test_misspelt_patient_and_ingredient_fields_are_refused():
    patient = ORDER.replace('id = "MRN1"', 'id = "MRN1"\nmrn = "1"')
    assert _order_error(patient) == "order 1 (RX1): unknown field(s) patient.mrn"
    ingredient = ORDER.replace('dose = "1 g"', 'dose = "1 g"\ndoze = "2 g"')
    assert _order_error(ingredient) == "order 1 (RX1): unknown field(s) ingredient.doze"
    missing = ORDER.replace('dose = "1 g"\n', "")
    assert _order_error(missing) == "order 1 (RX1): missing field ingredient.dose"


def test_a_flag_written_as_text_is_refused():
    assert _formulary_error(SALINE + 'hazardous = "false"\n') == (
        "product 1 (NDC 0409-4888-10): hazardous must be true or false, not 'false'"
    )


POWDER = """
[[product]]
ndc = "0143-9924-90"
name = "Cefazolin"
manufacturer = "Hikma"
strength = "1 g"
dosage_form = "powder for solution"
concentration = "330 mg/mL"
specific_gravity = "1.08"
container_volume_ml = "3.03"
[product.reconstitute]
diluents = ["0409-4888-10"]
volume_ml = "2.5"
"""


def test_reconstitution_diluents_are_checked_when_the_formulary_loads():
    assert len(Formulary.from_mapping(tomllib.loads(POWDER + SALINE))) == 2
    assert _formulary_error(POWDER) == (
        "Cefazolin 1 g (NDC 0143-9924-90): diluent NDC 0409-4888-10 is not in the formulary"
    )
    as_drug = SALINE.replace('role = "diluent"', 'role = "base"')
    assert _formulary_error(POWDER + as_drug) == (
        "Cefazolin 1 g (NDC 0143-9924-90): Sodium Chloride 0.9% 10 mL (NDC 0409-4888-10) is a "
        "base, not a diluent"
    )
    no_volume = POWDER.replace('volume_ml = "2.5"\n', "")
    assert _formulary_error(no_volume + SALINE) == (
        "product 1 (NDC 0143-9924-90): missing field reconstitute.volume_ml"
    )


def test_every_sample_order_survives_a_round_trip_through_its_mapping(sample_worklist):
    for order in sample_worklist:
        again = Worklist.from_mapping({"order": [order_to_mapping(order)]})
        assert next(iter(again)) == order
