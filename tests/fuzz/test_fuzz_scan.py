"""The scan parser accepts a scan or refuses it with a ParseError, never anything else."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.fuzz import GS, TARGETS, fuzz
from tests.fuzz import assert_named, findings

SCAN = TARGETS["scan"]
SEEDS = SCAN.seeds(seed=1)

_PIECES = st.sampled_from(
    ["01", "17", "10", "21", "715", "]d2", "]E0", "]C1", "(", ")", "-", GS, "\r", "\n",
     "00304094888026", "0304094888026", "280300", "000409488802", "0409-4888-02", "٣", "\x00"]
)


def test_seeded_generated_scans_are_accepted_or_named():
    outcome = fuzz(SCAN, 8000, seed=7)
    assert outcome.uncaught == 0, findings(outcome)
    assert outcome.accepted > 100 and sum(outcome.rejected.values()) > 1000


@settings(max_examples=300, deadline=None)
@given(st.randoms(use_true_random=False))
def test_mutated_valid_scans_are_accepted_or_named(rng: random.Random):
    assert_named(SCAN, SCAN.make_input(rng, SEEDS))


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=60), st.lists(_PIECES, max_size=14).map("".join)))
def test_any_text_is_accepted_or_named(text: str):
    assert_named(SCAN, text)
