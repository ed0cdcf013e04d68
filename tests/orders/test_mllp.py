"""MLLP framing, and real exchanges with the listener over a local TCP socket."""

from __future__ import annotations

import datetime as dt
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from station.cli.orders import OrderIntake
from station.config.catalog_files import load_formulary
from station.intake.mllp import (
    FramingError,
    MllpDecoder,
    MllpServer,
    frame,
    mllp_receive,
    mllp_send,
)
from station.records.database import make_engine
from station.records.migrate import upgrade
from station.records.order_book import OrderBook
from tests.clock import FakeClock

#: A real TCP server per test, each stop waiting out its accept loop.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
HL7 = ROOT / "fixtures" / "orders" / "hl7"
T0 = dt.datetime(2026, 11, 26, 14, 0, tzinfo=dt.UTC)


def wire(name: str) -> str:
    """A fixture as it travels: segments ended by CR."""
    return (HL7 / name).read_text(encoding="utf-8").replace("\n", "\r")


# ------------------------------------------------------------------------------ framing


@given(st.lists(st.binary(min_size=1).filter(lambda b: b"\x1c\r" not in b
                                             and b"\x0b" not in b), max_size=5),
       st.data())
def test_any_chunking_gives_the_same_messages(messages, data):
    stream = b"".join(frame(m) for m in messages)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    decoder = MllpDecoder()
    out: list[bytes] = []
    for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        out.extend(decoder.feed(stream[start:end]))
    assert out == messages
    assert decoder.pending == 0


def test_noise_outside_frames_is_dropped():
    decoder = MllpDecoder()
    assert decoder.feed(b"\r\njunk\x0bMSH|a\x1c\rmore junk") == [b"MSH|a"]
    assert decoder.pending == 0


def test_an_endless_message_is_a_framing_error():
    decoder = MllpDecoder(max_message=10)
    with pytest.raises(FramingError, match="longer than 10 bytes"):
        decoder.feed(b"\x0b" + b"x" * 20)


# ------------------------------------------------------------------------------ real socket


@pytest.fixture
def intake(tmp_path) -> Iterator[OrderIntake]:
    engine = make_engine(f"sqlite:///{tmp_path / 'station.db'}")
    upgrade(engine)
    formulary = load_formulary(ROOT / "fixtures" / "formulary.toml")
    numbers = iter(range(1, 1000))
    yield OrderIntake(OrderBook(engine, FakeClock(T0)), formulary, clock=FakeClock(T0),
                      new_id=lambda: f"ACK{next(numbers)}")
    engine.dispose()


@pytest.fixture
def server(intake) -> Iterator[MllpServer]:
    with MllpServer("127.0.0.1", 0, lambda text: intake.hl7(text, "mllp")[1]) as running:
        yield running


def msa(ack: str) -> str:
    return ack.split("\r")[1]


def test_accepted_order_gets_aa(server, intake):
    ack = mllp_send(server.host, server.port, wire("nw_vancomycin.hl7"))
    assert ack.split("\r") == [
        "MSH|^~\\&|IVSTATION|PHARMACY|EPIC|GENHOSP|20261126140000+0000||ACK^O11^ACK|ACK1|P|"
        "2.5.1",
        "MSA|AA|MSG-20261126-0001",
        "",
    ]
    assert [o.order_id for o in intake.book.worklist()] == ["RX-270001"]


def test_rejected_order_gets_ae_with_reason(server):
    ack = mllp_send(server.host, server.port, wire("bad_missing_dose.hl7"))
    assert ack.split("\r")[1:] == [
        "MSA|AE|MSG-20261126-0006|RXE-3 dose is missing",
        "ERR||RXE^1^3|101^Required field missing^HL70357|E||||RXE-3 dose is missing",
        "",
    ]


def test_malformed_message_gets_ar(server):
    ack = mllp_send(server.host, server.port, wire("bad_malformed_segment.hl7"))
    assert msa(ack) == ("MSA|AR|MSG-20261126-0007|segment 5 ('RXE give 2 g') is not a "
                        "segment: expected a three-character segment id followed by '\\F\\'")


def test_a_message_split_across_packets(server, intake):
    data = frame(wire("nw_vancomycin.hl7"))
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(data[:7])
        sock.sendall(data[7:200])
        # Nothing may come back before the frame is complete.
        sock.settimeout(0.2)
        with pytest.raises(TimeoutError):
            sock.recv(100)
        sock.settimeout(10)
        sock.sendall(data[200:-1])
        sock.sendall(data[-1:])
        [ack] = mllp_receive(sock, 1)
    assert msa(ack) == "MSA|AA|MSG-20261126-0001"
    assert len(intake.book.worklist()) == 1


def test_two_messages_in_one_packet_get_two_acks_in_order(server, intake):
    packet = frame(wire("nw_vancomycin.hl7")) + frame(wire("xo_vancomycin.hl7"))
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(packet)
        acks = mllp_receive(sock, 2)
    assert [msa(a) for a in acks] == ["MSA|AA|MSG-20261126-0001", "MSA|AA|MSG-20261126-0002"]
    [order] = list(intake.book.worklist())
    assert str(order.ingredients[0].dose) == "1500 mg"


def test_resent_message_is_acknowledged_again_and_stored_once(server, intake):
    first = mllp_send(server.host, server.port, wire("nw_vancomycin.hl7"))
    again = mllp_send(server.host, server.port, wire("nw_vancomycin.hl7"))
    assert msa(first) == msa(again) == "MSA|AA|MSG-20261126-0001"
    assert len(intake.book.events()) == 1


def test_a_failing_handler_still_answers():
    def broken(text: str) -> str:
        raise RuntimeError("disk full")

    with MllpServer("127.0.0.1", 0, broken) as running:
        ack = mllp_send(running.host, running.port, wire("nw_vancomycin.hl7"))
    assert msa(ack) == ("MSA|AE|MSG-20261126-0001|the station could not process the "
                        "message: disk full")


def test_stop_closes_open_connections(intake):
    running = MllpServer("127.0.0.1", 0, lambda text: intake.hl7(text, "mllp")[1]).start()
    sock = socket.create_connection((running.host, running.port), timeout=10)
    try:
        sock.sendall(frame(wire("nw_vancomycin.hl7")))
        assert msa(mllp_receive(sock, 1)[0]) == "MSA|AA|MSG-20261126-0001"
        running.stop()
        assert sock.recv(10) == b""
    finally:
        sock.close()
    assert len(intake.book.worklist()) == 1
