"""Fixtures for the tests over a realistic record (the record itself, on both backends, is
the ``backend`` fixture of tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.backends import BACKENDS
from tests.records.seeding import Seeded, seeded_backend


@pytest.fixture(scope="module", params=BACKENDS)
def seeded(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """A record seeded once per module through the real workflow, on each backend."""
    yield from seeded_backend(request.param, tmp_path_factory)
