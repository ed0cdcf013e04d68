"""Each balance codec parses a line or refuses it with a named BalanceError, never else."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.fuzz import TARGETS, fuzz
from tests.fuzz import assert_named, findings

CODECS = ["mt-sics", "sbi", "ohaus", "and"]
SEEDS = {name: TARGETS[name].seeds(seed=1) for name in CODECS}


@pytest.mark.parametrize("name", CODECS)
def test_seeded_generated_replies_are_accepted_or_named(name: str):
    outcome = fuzz(TARGETS[name], 10000, seed=7)
    assert outcome.uncaught == 0, findings(outcome)
    assert outcome.accepted > 100 and sum(outcome.rejected.values()) > 1000


@pytest.mark.parametrize("name", CODECS)
@settings(max_examples=200, deadline=None)
@given(rng=st.randoms(use_true_random=False))
def test_mutated_valid_replies_are_accepted_or_named(name: str, rng: random.Random):
    target = TARGETS[name]
    assert_named(target, target.make_input(rng, SEEDS[name]))


@pytest.mark.parametrize("name", CODECS)
@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=300))
def test_any_bytes_are_accepted_or_named(name: str, data: bytes):
    assert_named(TARGETS[name], data)
