r"""Fuzz the scan parser and the four balance codecs: every input is accepted or refused by name.

``python -m benchmarks.fuzz [--examples N] [--seed S] [--target NAME ...]`` runs each target
``N`` times (default 100 000) and prints one table: inputs, accepted, rejections by error
name, uncaught exceptions, seconds and inputs per second; then one line per finding (an
exception that is not one of the target's named errors, or a broken invariant of an
accepted value), with the smallest input that raised it. The exit status is 1 if anything
was uncaught.

Inputs are grammar-aware and cheap: valid scans (UPC-A, EAN-13, GTIN-14, GS1 element strings
with GS, the ``(01)…`` form, typed NDCs, with and without AIM prefixes) and valid balance
replies, built from random values, then mutated 0-4 times by character/bit flips,
truncation, deletion, duplication, splicing with another seed, insertion of GS/CR/LF/ESC/ACK
and protocol punctuation, wrong check digits and huge lengths (runs of 255-5000
characters); a tenth of the inputs are plain random text. Scans are ``str`` (any code
point); a codec's input is ``bytes``, fed through :class:`~scale_drivers.framing.LineFramer`
as the driver does, and its Latin-1 text is also parsed as one line directly (so lines the
framer would cut at 256 bytes reach the codec too). The stateful codecs (SBI, Ohaus) parse
each line both as the answer to a weight command and to an identification command.

Named errors: the scan parser's :class:`~station.core.errors.ParseError` family; a codec's
:class:`~scale_drivers.api.BalanceError` family (ProtocolError, BalanceOverload, …) and the
framer's :class:`~scale_drivers.framing.FramingOverflow`.

``--atheris TARGET`` runs one target under atheris (coverage-guided, libFuzzer; installed
separately with ``pip install atheris``, not a project dependency), seeded with the same
valid inputs, for ``--examples`` runs; it stops at the first uncaught exception.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from scale_drivers import a_and_d, mt_sics, ohaus, sbi
from scale_drivers.api import BalanceError
from scale_drivers.driver import Weight
from scale_drivers.framing import FramingOverflow, LineFramer
from station.core.errors import ParseError
from station.core.scan import ScanIdentity, parse_scan

GS = "\x1d"
REFERENCE_YEAR = 2026
DEFAULT_EXAMPLES = 100_000
DEFAULT_SEED = 20260305


class InvariantBroken(AssertionError):
    """An accepted value that breaks what its type promises (a finding, like a crash)."""


# ---------------------------------------------------------------- valid inputs


def check_digit(payload: str) -> str:
    """The GS1 mod-10 check digit of ``payload`` (weights 3, 1, 3 … from the right)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(payload)))
    return str(-total % 10)


def _digits(rng: random.Random, count: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(count))


def _gs1_text(rng: random.Random, low: int, high: int) -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789-/."
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(low, high)))


def valid_scan(rng: random.Random) -> str:
    """A scan the parser accepts (most of the time): one of the forms a package carries."""
    ndc10 = _digits(rng, 10)
    payload = f"{rng.randint(0, 8)}03{ndc10}"
    gtin = payload + check_digit(payload)
    form = rng.randrange(6)
    if form == 0:  # UPC-A, optionally with its AIM prefix
        upc = "3" + ndc10
        return rng.choice(["", "]E0"]) + upc + check_digit(upc)
    if form == 1:  # EAN-13 / GTIN-14
        return rng.choice(["", "]E0"]) + (gtin[1:] if rng.random() < 0.5 else gtin)
    if form == 2:  # typed NDC
        shape = rng.choice([(4, 4, 2), (5, 3, 2), (5, 4, 1), (5, 4, 2), (6, 4, 2)])
        return "-".join(_digits(rng, n) for n in shape)
    expiry = f"{rng.randint(20, 40):02d}{rng.randint(1, 12):02d}{rng.choice(['00', '15', '28'])}"
    elements = [("01", gtin), ("17", expiry), ("10", _gs1_text(rng, 1, 20)),
                ("21", _gs1_text(rng, 1, 20))]
    if rng.random() < 0.2:
        elements.append(("715", "00" + ndc10))
    head, tail = elements[:2], elements[2:]
    rng.shuffle(tail)
    elements = head + tail[: rng.randint(0, len(tail))]
    if form == 3:  # the human-readable form
        return "".join(f"({ai}){value}" for ai, value in elements)
    # GS1 element string: a GS after every variable-length field but the last
    text = ""
    for index, (ai, value) in enumerate(elements):
        text += ai + value
        if ai in ("10", "21", "715") and index < len(elements) - 1:
            text += GS
    return rng.choice(["]d2", "]C1", "]Q3", "]e0", ""]) + text


_UNITS = ["g", "mg", "kg", "ct", "oz", "lb", "pcs", "%"]


def _value(rng: random.Random, decimals: int = -1) -> str:
    places = rng.choice([0, 1, 2, 3, 4]) if decimals < 0 else decimals
    whole = str(rng.randint(0, 10 ** rng.randint(0, 5)))
    return whole + (f".{_digits(rng, places)}" if places else "")


def valid_mt_sics(rng: random.Random) -> str:
    """A well-formed MT-SICS reply line."""
    value = rng.choice(["", "-"]) + _value(rng)
    return rng.choice([
        f"{rng.choice(['S', 'T', 'TA', 'TI'])} {rng.choice('SDAM')} {value:>10} g",
        f"S {rng.choice('+-IL')}",
        rng.choice(["ES", "ET", "EL", "Z A", "TAC A", "@ A"]),
        f'I2 A "XS204 Excellence {_value(rng)} g"',
        f'I4 A "{_digits(rng, 10)}"',
        f'I3 A "{_value(rng, 2)}.{rng.randint(0, 9)}"',
    ]) + "\r\n"


def valid_sbi(rng: random.Random) -> str:
    """A well-formed SBI line (16 or 22 characters, or a special line)."""
    unit = rng.choice([*_UNITS, "", ""])
    weight = f"{rng.choice('+- ')}{_value(rng):>10} {unit:<3}"
    return rng.choice([
        weight,
        f"{rng.choice(['N', 'G', 'T', 'Stat'])}{'':<5}{weight}",
        rng.choice(["?", ""]) + f"+{_value(rng):>9}[{rng.randint(0, 9)}] g  ",
        "Stat     " + rng.choice(["High", "Low", "H", "LL", "Cal.Int.", "--", "OFF", ""]),
        rng.choice(["Err 101", "APP.ERR", "DIS.ERR", "PRT.ERR", "----", "C"]),
        f"SerNo.    {_digits(rng, 10)}", "BCE224I-1S",
    ]) + "\r\n"


def valid_ohaus(rng: random.Random) -> str:
    """A well-formed Ohaus print line, ``ES`` or ``OK!``."""
    value = rng.choice(["", "-"]) + _value(rng)
    return rng.choice([
        f"{value:>10} {rng.choice(_UNITS):<5} {rng.choice(['?', ' '])} "
        f"{rng.choice(['NET', 'TOTAL', '00:00:15', ''])}",
        "ES", "OK!", f"SN: {_digits(rng, 10)}", "Adventurer 1.10 LFT ON",
    ]) + "\r\n"


def valid_a_and_d(rng: random.Random) -> str:
    """A well-formed A&D standard-format line."""
    sign = rng.choice("+-")
    value = _value(rng, rng.choice([0, 1, 2, 3]))
    return rng.choice([
        f"{rng.choice(['ST', 'US', 'QT'])},{sign}{value:0>8}{rng.choice(_UNITS):>4}",
        f"{rng.choice(['ST', 'OK', 'HI'])},{rng.choice(['LO', 'OK', 'HI', '--'])},"
        f"{sign}{value:0>8}  g",
        f"OL,{sign}9999999 E",
        "EC,E" + rng.choice(["00", "01", "02", "03", "04", "06", "07", "11", "16", "20", "99"]),
        f"SN,{_digits(rng, 8)}", 'TN,"  GX-2002A"', "\x06", "\x06ST,+00001.00  g",
    ]) + "\r\n"


# ---------------------------------------------------------------- mutation

# Characters mutations insert: framing bytes and each grammar's punctuation.
_SPECIALS = [GS, "\r", "\n", "\r\n", "\x1b", "\x06", "\x00", "\x7f", "\xff", " ", "\t",
             '"', "\\", "(", ")", "-", "+", ".", ",", "?", "[", "]", "/", ":", "%", "E", "e",
             "]d2", "]E0", "01", "10", "17", "21", "715", "ES", "ST,", "Stat", "NaN", "Infinity",
             "1e9999", "٣", "²", "\u200b", "\ud800"]


def _random_char(rng: random.Random, wide: bool) -> str:
    roll = rng.random()
    if roll < 0.5:
        return chr(rng.randint(0x20, 0x7E))
    if roll < 0.8 or not wide:
        return chr(rng.randint(0, 0xFF))
    return chr(rng.randint(0x100, 0x10FFFF))


def random_text(rng: random.Random, wide: bool) -> str:
    """Unstructured text (``wide``: any code point, else Latin-1)."""
    return "".join(_random_char(rng, wide) for _ in range(rng.randint(0, 40)))


def mutate(  # noqa: PLR0911 - one return per mutation reads best
    text: str, rng: random.Random, seeds: Sequence[str], wide: bool
) -> str:
    """Apply one random mutation; ``wide`` allows code points above 255."""
    position = rng.randint(0, len(text))
    operation = rng.randrange(10)
    if operation == 0 and text:  # character flip
        index = rng.randrange(len(text))
        return text[:index] + _random_char(rng, wide) + text[index + 1:]
    if operation == 1 and text:  # bit flip
        index = rng.randrange(len(text))
        flipped = ord(text[index]) ^ (1 << rng.randrange(8))
        return text[:index] + chr(flipped) + text[index + 1:]
    if operation == 2:  # truncation, from either end
        return text[:position] if rng.random() < 0.7 else text[position:]
    if operation == 3:  # insertion of a special
        special = rng.choice(_SPECIALS)
        if not wide:
            special = special.encode("latin-1", "replace").decode("latin-1")
        return text[:position] + special + text[position:]
    if operation == 4:  # deletion of a span
        return text[:position] + text[position + rng.randint(1, 4):]
    if operation == 5 and text:  # duplication of a span
        end = rng.randint(position, len(text))
        return text[:end] + text[position:end] + text[end:]
    if operation == 6:  # splice with another seed
        other = rng.choice(seeds)
        return text[:position] + other[rng.randint(0, len(other)):]
    if operation == 7:  # wrong digit (a check digit, a date, a length)
        places = [i for i, c in enumerate(text) if c.isdigit()]
        if places:
            index = rng.choice(places)
            return text[:index] + rng.choice("0123456789") + text[index + 1:]
    if operation == 8:  # huge length
        size = rng.choice([255, 256, 257, 1000, 5000])
        filler = rng.choice(["0", "9", "A", " ", GS, "(", '"', "1."]) * size
        return text[:position] + filler[:size] + text[position:]
    return text.swapcase() if operation == 9 else text


def generate(rng: random.Random, make_valid: Callable[[random.Random], str],
             seeds: Sequence[str], wide: bool) -> str:
    """One input: valid, mutated valid, or plain random text."""
    roll = rng.random()
    if roll < 0.1:
        return random_text(rng, wide)
    text = make_valid(rng) if rng.random() < 0.7 else rng.choice(seeds)
    if roll < 0.25:
        return text
    for _ in range(rng.randint(1, 4)):
        text = mutate(text, rng, seeds, wide)
    return text


# ---------------------------------------------------------------- targets


def check_scan(text: str) -> str:
    """Parse a scan; returns what was accepted, raises a ParseError (named) or a finding."""
    identity = parse_scan(text, REFERENCE_YEAR)
    if not isinstance(identity, ScanIdentity) or (identity.gtin is None and identity.ndc is None):
        raise InvariantBroken(f"accepted {text!r} without a product identifier")
    _ = identity.ndc10, identity.ndc_candidates  # what the formulary lookup reads next
    return identity.kind.value


def _check_weight(weight: Weight) -> None:
    if not isinstance(weight.value, Decimal) or not weight.value.is_finite():
        raise InvariantBroken(f"weight {weight.value!r} from {weight.raw!r} is not a number")


def _codec_lines(data: bytes) -> list[str]:
    """The lines the driver's framer makes of ``data``, then the whole input as one line."""
    framer = LineFramer()
    lines: list[str] = []
    error: FramingOverflow | None = None
    try:
        lines = framer.feed(data)
    except FramingOverflow as overflow:
        error = overflow
    lines.append(data.decode("latin-1"))
    if error is not None:  # after checking the other lines, report the overflow
        lines.append("\x00overflow")
    return lines


def _run_lines(data: bytes, *parsers: Callable[[str], None]) -> str:
    """Parse every line with every parser; raise the first named error after all were tried."""
    first: Exception | None = None
    for line in _codec_lines(data):
        for parse_one in parsers:
            try:
                if line == "\x00overflow":
                    raise FramingOverflow("more than 256 bytes without a line ending")
                parse_one(line)
            except (BalanceError, FramingOverflow) as error:
                first = first or error
    if first is not None:
        raise first
    return "accepted"


def _mt_sics_line(line: str) -> None:
    reply = mt_sics.MtSicsCodec().parse(line)
    if reply is not None and reply.command in mt_sics.WEIGHT_REPLIES | mt_sics.ERRORS:
        _check_weight(mt_sics.weight_of(reply))


def _sbi_line(answering: str) -> Callable[[str], None]:
    """Parse a line as the answer to ``answering`` (the SBI codec reads by the command)."""

    def parse_one(line: str) -> None:
        codec = sbi.SbiCodec()
        codec.encode(answering)
        reply = codec.parse(line)
        if reply is not None:
            sbi.raise_for_status(reply)
            if reply.kind == "weight":
                _check_weight(sbi.weight_of(reply))
            else:
                sbi.identity_text(reply.label)

    return parse_one


def _ohaus_line(answering: str) -> Callable[[str], None]:
    """Parse a line as the answer to ``answering`` (the Ohaus codec reads by the command)."""

    def parse_one(line: str) -> None:
        codec = ohaus.OhausCodec()
        codec.encode(answering)
        reply = codec.parse(line)
        if reply is not None and reply.kind != "text":
            ohaus.raise_for_status(reply)
            if reply.kind == "weight":
                _check_weight(ohaus.weight_of(reply))

    return parse_one


def _a_and_d_line(line: str) -> None:
    reply = a_and_d.AandDCodec().parse(line)
    if reply is not None:
        a_and_d.raise_for_status(reply)
        if reply.header in a_and_d.WEIGHT_HEADERS:
            _check_weight(a_and_d.weight_of(reply))


@dataclass(frozen=True)
class Target:
    """One thing to fuzz: how to make inputs, how to run one, and which errors are named."""

    name: str
    run: Callable[[Any], str]
    make_valid: Callable[[random.Random], str]
    named: tuple[type[Exception], ...]
    wide: bool  # str input with any code point (scan), else Latin-1 text sent as bytes

    def seeds(self, count: int = 200, seed: int = 0) -> list[str]:
        """Valid inputs to mutate and splice."""
        rng = random.Random(seed)
        return [self.make_valid(rng) for _ in range(count)]

    def make_input(self, rng: random.Random, seeds: Sequence[str]) -> str | bytes:
        """One generated input, in the type ``run`` takes."""
        text = generate(rng, self.make_valid, seeds, self.wide)
        return text if self.wide else text.encode("latin-1", "replace")


_CODEC_ERRORS = (BalanceError, FramingOverflow)
_SBI_PARSERS = (_sbi_line(sbi.PRINT), _sbi_line(sbi.MODEL))
_OHAUS_PARSERS = (_ohaus_line(ohaus.PRINT_NOW), _ohaus_line(ohaus.SERIAL_NUMBER))

TARGETS: dict[str, Target] = {
    "scan": Target("scan", check_scan, valid_scan, (ParseError,), wide=True),
    "mt-sics": Target("mt-sics", lambda d: _run_lines(d, _mt_sics_line), valid_mt_sics,
                      _CODEC_ERRORS, wide=False),
    "sbi": Target("sbi", lambda d: _run_lines(d, *_SBI_PARSERS), valid_sbi, _CODEC_ERRORS,
                  wide=False),
    "ohaus": Target("ohaus", lambda d: _run_lines(d, *_OHAUS_PARSERS), valid_ohaus,
                    _CODEC_ERRORS, wide=False),
    "and": Target("and", lambda d: _run_lines(d, _a_and_d_line), valid_a_and_d, _CODEC_ERRORS,
                  wide=False),
}


# ---------------------------------------------------------------- running


@dataclass
class Finding:
    """An uncaught exception (or broken invariant): its kind, where, and the smallest input."""

    kind: str
    where: str
    message: str
    example: str | bytes
    count: int = 1


@dataclass
class Outcome:
    """What one target did with its inputs."""

    target: str
    inputs: int = 0
    accepted: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    uncaught: int = 0
    seconds: float = 0.0
    slowest: float = 0.0
    slowest_input: str | bytes = ""
    findings: dict[tuple[str, str], Finding] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        """Inputs per second."""
        return self.inputs / self.seconds if self.seconds else 0.0


def _where(error: BaseException) -> str:
    frames = traceback.extract_tb(error.__traceback__)
    frame = frames[-1] if frames else None
    return f"{Path(frame.filename).name}:{frame.lineno}" if frame else "?"


def run_one(target: Target, data: str | bytes, outcome: Outcome) -> None:
    """Run one input and record the result in ``outcome``."""
    outcome.inputs += 1
    try:
        target.run(data)
    except target.named as error:
        outcome.rejected[type(error).__name__] += 1
    except Exception as error:  # the finding itself: anything not named
        outcome.uncaught += 1
        key = (type(error).__name__, _where(error))
        found = outcome.findings.get(key)
        if found is None:
            outcome.findings[key] = Finding(key[0], key[1], str(error)[:160], data)
        else:
            found.count += 1
            if len(data) < len(found.example):
                found.example = data
    else:
        outcome.accepted += 1


def fuzz(target: Target, examples: int, seed: int) -> Outcome:
    """Run ``examples`` generated inputs through ``target``."""
    rng = random.Random(f"{seed}/{target.name}")
    seeds = target.seeds(seed=seed)
    outcome = Outcome(target.name)
    started = time.perf_counter()
    for _ in range(examples):
        data = target.make_input(rng, seeds)
        before = time.perf_counter()
        run_one(target, data, outcome)
        spent = time.perf_counter() - before
        if spent > outcome.slowest:
            outcome.slowest, outcome.slowest_input = spent, data
    outcome.seconds = time.perf_counter() - started
    return outcome


def _short(data: str | bytes, limit: int = 90) -> str:
    text = repr(data)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(data)} long)"


def report(outcomes: Sequence[Outcome]) -> str:
    """The table, then the findings and the slowest input of each target."""
    rows = [("target", "inputs", "accepted", "rejected by error name", "uncaught", "seconds",
             "inputs/s")]
    for o in outcomes:
        names = ", ".join(f"{name} {count}" for name, count in o.rejected.most_common())
        rows.append((o.target, str(o.inputs), str(o.accepted), names or "-", str(o.uncaught),
                     f"{o.seconds:.1f}", f"{o.rate:,.0f}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) if i in (0, 3) else cell.rjust(w)
                       for i, (cell, w) in enumerate(zip(row, widths, strict=True)))
             for row in rows]
    lines.insert(1, "-" * len(lines[0]))
    for o in outcomes:
        for f in o.findings.values():
            lines.append(f"FINDING {o.target}: {f.kind} at {f.where} ×{f.count}: {f.message}"
                         f" — e.g. {_short(f.example)}")
    for o in outcomes:
        lines.append(f"slowest {o.target} input: {o.slowest * 1000:.1f} ms for "
                     f"{_short(o.slowest_input, 60)}")
    return "\n".join(lines)


def run_atheris(target: Target, examples: int, seed: int) -> int:
    """Coverage-guided fuzzing of one target with atheris, seeded with valid inputs."""
    import atheris  # noqa: PLC0415 - optional, installed by hand

    def test_one_input(data: bytes) -> None:
        payload: str | bytes = data
        if target.wide:
            payload = atheris.FuzzedDataProvider(data).ConsumeUnicodeNoSurrogates(len(data))
        with contextlib.suppress(*target.named):
            target.run(payload)

    corpus = Path(tempfile.mkdtemp(prefix=f"fuzz-{target.name}-"))
    for index, text in enumerate(target.seeds(seed=seed)):
        raw = text.encode("utf-8") if target.wide else text.encode("latin-1", "replace")
        (corpus / f"seed{index}").write_bytes(b"\x00" + raw if target.wide else raw)
    atheris.instrument_all()
    atheris.Setup([sys.argv[0], f"-runs={examples}", f"-seed={seed}", str(corpus)],
                  test_one_input)
    atheris.Fuzz()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line, fuzz each target, print the table."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fuzz", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=DEFAULT_EXAMPLES,
                        help="inputs per target (default %(default)s)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--target", action="append", choices=sorted(TARGETS),
                        help="fuzz only this target (repeatable; default all)")
    parser.add_argument("--atheris", choices=sorted(TARGETS),
                        help="fuzz this one target coverage-guided with atheris instead")
    args = parser.parse_args(argv)
    if args.atheris:
        return run_atheris(TARGETS[args.atheris], args.examples, args.seed)
    outcomes = []
    for name in args.target or list(TARGETS):
        outcomes.append(fuzz(TARGETS[name], args.examples, args.seed))
        print(f"{name}: done", file=sys.stderr, flush=True)
    print(report(outcomes))
    return 1 if any(o.uncaught for o in outcomes) else 0


if __name__ == "__main__":
    raise SystemExit(main())
