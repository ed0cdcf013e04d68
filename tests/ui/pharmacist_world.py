"""A record with work waiting for a pharmacist, and the pharmacist's page running over it.

The record is seeded through the real workflow (``station.demo.seed``: realistic scans,
weights, photographs, hard stops and overrides), then given two more preparations: one held
for an in-process check (potassium chloride), and one a pharmacist made themselves.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from argon2 import PasswordHasher

from station.config.catalog_files import load_worklist
from station.config.model import DEFAULT_SITE_TOLERANCE
from station.core.accounts import Role
from station.core.quantities import Tolerance
from station.core.workflow import Phase, Started
from station.demo.seed import seed, simulated_balance
from station.records.database import make_engine
from station.records.formulary_versions import FormularyVersions
from station.records.record import Record, photo_store_for
from station.records.store import EventStore
from station.records.users import UserDirectory
from station.services.preparations import PreparationService
from station.services.sessions import Session, SessionManager
from tests.backends import Backend
from tests.records.builders import PhotographingTechnician
from ui.pharmacist.page import PharmacistPage
from ui.workers.devices import DeviceThreads
from ui.workers.pharmacist_worker import PharmacistWorker

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
STATION = Path(sys.executable).with_name("station")
FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
PASSWORDS = {"rph.lee": "correct horse 2026", "rph.kim": "battery staple 2026"}
NAMES = {"rph.lee": "Lee Nakamura, PharmD", "rph.kim": "Kim Osei, PharmD"}
SEEDED = 12
SEED = 2  # on an empty record: 3 of the 12 are left awaiting verification
TOLERANCE = Tolerance(Decimal("0.05"))


def now() -> dt.datetime:
    """The station's clock: the time now with the site's UTC offset."""
    return dt.datetime.now().astimezone()


@dataclass
class World:
    """The record, the pharmacist's service and accounts, and what waits in the queue."""

    backend: Backend
    record: Record
    service: PreparationService
    sessions: SessionManager
    seeded_waiting: tuple[str, ...]
    check_id: str
    own_id: str

    def session(self, user_id: str) -> Session:
        return self.sessions.start(user_id, PASSWORDS[user_id], now=now())

    def kinds(self, preparation_id: str) -> list[str]:
        return [e.kind for e in self.record.events.events_of(preparation_id)]

    def hood(self, station_id: str = "hood-3") -> PreparationService:
        return PreparationService(self.record, station_id=station_id, site_tolerance=TOLERANCE,
                                  clock=now)

    def seed_from_another_process(self, count: int, seed_value: int) -> str:
        """``station records seed`` in a child process; its one-line summary."""
        done = subprocess.run([str(STATION), "records", "seed", "--db", self.backend.url,
                               "--count", str(count), "--seed", str(seed_value)],
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()


def build_world(backend: Backend) -> Iterator[World]:
    """Seed the record, add the accounts and the two extra preparations.

    On PostgreSQL the pharmacist's station connects as the application role, which may only
    read and insert, as a deployed station does.
    """
    record = Record(backend.url, backend.engine, EventStore(backend.engine),
                    photo_store_for(backend.url, backend.engine))
    report = seed(record, SEEDED, seed=SEED, clock=now, pan=simulated_balance,
                  site_tolerance=DEFAULT_SITE_TOLERANCE)
    accounts = UserDirectory(backend.engine, now, hasher=FAST)
    for user_id, password in PASSWORDS.items():
        accounts.add(user_id, NAMES[user_id], Role.PHARMACIST, password, by="admin")
    url = backend.app_url or backend.url
    engine = make_engine(url) if backend.app_url else backend.engine
    station = Record(url, engine, EventStore(engine), photo_store_for(url, engine))
    sessions = SessionManager(UserDirectory(engine, now, hasher=FAST))
    service = PreparationService(station, station_id="rph-remote-1", site_tolerance=TOLERANCE,
                                 clock=now)
    waiting = tuple(p for p in report.preparation_ids
                    if service.load(p).phase is Phase.AWAITING_VERIFICATION)
    world = World(backend, record, service, sessions, waiting, "", "")
    world.check_id = _make(world, "RX-260109", "tech.raj", {Phase.AWAITING_CHECK})
    world.own_id = _make(world, "RX-260108", "rph.kim", {Phase.AWAITING_VERIFICATION})
    try:
        yield world
    finally:
        if engine is not backend.engine:
            engine.dispose()


def _make(world: World, order_id: str, user: str, until: set[Phase]) -> str:
    """A preparation of a sample order, photographed at every step, made up to ``until``."""
    hood = world.hood()
    version = FormularyVersions(world.record.engine).latest()
    assert version is not None
    tech = PhotographingTechnician(hood)
    tech.user = user
    created = hood.create(load_worklist().get(order_id), version, user)
    tech.run_until(tech.do(created, Started(user, tech.at)), until)
    return created.preparation_id


@dataclass
class Running:
    """The page and its worker on its own thread."""

    page: PharmacistPage
    worker: PharmacistWorker
    threads: DeviceThreads


def run_page(world: World, qtbot, user: str = "rph.lee") -> Iterator[Running]:
    """The page at 1920 x 1080 with the worker started and ``user`` signed in."""
    worker = PharmacistWorker(world.service, world.sessions, poll_interval=0.2)
    threads = DeviceThreads()
    threads.add(worker)
    page = PharmacistPage(worker)
    qtbot.addWidget(page)
    page.resize(1920, 1080)
    page.show()
    qtbot.waitExposed(page)
    threads.start()
    page.set_session(world.session(user))
    expected = len(world.seeded_waiting) + 2
    qtbot.waitUntil(lambda: len(page.queue_view.model.entries) == expected, timeout=10_000)
    try:
        yield Running(page, worker, threads)
    finally:
        if page.dialog is not None:
            page.dialog.reject()
        assert threads.stop(), "the pharmacist's thread did not end"
