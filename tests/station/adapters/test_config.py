"""station.toml: defaults, every key, each refusal word for word, paths, and round trips."""

from __future__ import annotations

import os
import stat
import tomllib
from decimal import Decimal
from pathlib import Path

import platformdirs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scale_drivers.api import Handshake, Parity, SerialSettings
from scale_drivers.protocols import PROTOCOLS
from station.config import catalog_files
from station.config import station_config as config_module
from station.config.model import (
    BalanceConfig,
    CameraConfig,
    DataConfig,
    LabelsSection,
    RecordConfig,
    ScannerConfig,
    SiteSection,
    StationConfig,
    StationSection,
)
from station.config.station_config import (
    ConfigError,
    config_from_mapping,
    default_config_path,
    load_config,
)
from station.config.writer import to_toml, write_config
from station.core.errors import StationError
from station.core.quantities import Tolerance

FULL = """\
[station]
id = "hood-3"
name = "Cleanroom 2, left hood"
check_weight = "50.0000"
check_tolerance = "0.0300"
iso5 = false

[record]
url = "postgresql+psycopg://station@db.example/ivstation"

[balance]
port = "/dev/ttyUSB0"
protocol = "sbi"
baudrate = 19200
bytesize = 7
parity = "even"
stopbits = 2
expected_serial = "B936102145"
readability = "0.0010"

[camera]
source = 0
fps = 30

[scanner]
port = "/dev/ttyACM0"
baudrate = 115200

[data]
formulary = "/srv/pharmacy/formulary.toml"
worklist = "/srv/pharmacy/worklist.toml"

[labels]
printer = "tcp://zebra-3.pharmacy.example:9100"
size = "101.6x152.4"
vial_size = "50.8 x 25.4 mm"
dpi = 300

[demo]
show_passwords = false
"""

FULL_CONFIG = StationConfig(
    station=StationSection(id="hood-3", name="Cleanroom 2, left hood",
                           check_weight=Decimal("50.0000"), check_tolerance=Decimal("0.0300"),
                           iso5=False),
    record=RecordConfig(url="postgresql+psycopg://station@db.example/ivstation"),
    balance=BalanceConfig(
        port="/dev/ttyUSB0",
        protocol="sbi",
        baudrate=19200,
        bytesize=7,
        parity=Parity.EVEN,
        stopbits=2,
        expected_serial="B936102145",
        readability=Decimal("0.0010"),
    ),
    camera=CameraConfig(source=0, fps=30.0),
    scanner=ScannerConfig(port="/dev/ttyACM0", baudrate=115200),
    data=DataConfig(
        formulary=Path("/srv/pharmacy/formulary.toml"),
        worklist=Path("/srv/pharmacy/worklist.toml"),
    ),
    labels=LabelsSection(printer="tcp://zebra-3.pharmacy.example:9100", size="101.6x152.4",
                         vial_size="50.8x25.4", dpi=300),
    demo_passwords=False,
)


def write(folder: Path, text: str) -> Path:
    path = folder / "station.toml"
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------- defaults


def test_no_file_is_the_demo(tmp_path):
    assert load_config(None) == StationConfig()
    assert load_config(tmp_path / "absent.toml") == StationConfig()
    assert load_config(write(tmp_path, "")) == StationConfig()


def test_the_defaults():
    config = StationConfig()
    assert config.station == StationSection(id="hood-1", name="", check_weight=Decimal("100.000"),
                                            check_tolerance=None)
    assert str(config.station.check_weight) == "100.000"
    assert config.record.url is None
    assert config.record.embedded
    assert config.balance == BalanceConfig("simulated", "mt-sics", None, None, None, None, None,
                                           None)
    assert config.balance.readability is None  # the balance must report its own
    assert config.balance.simulated
    assert config.balance.serial_settings == PROTOCOLS["mt-sics"].settings
    assert config.camera.source == "simulated"
    assert config.camera.simulated
    assert config.camera.fps == 15.0
    assert config.camera.device_index is None
    assert config.camera.folder is None
    assert config.scanner == ScannerConfig(port=None, baudrate=9600)
    assert config.data == DataConfig(None, None)
    assert config.demo
    assert config.demo_passwords is None
    assert config.show_passwords


def test_missing_data_files_are_the_samples(monkeypatch):
    monkeypatch.delenv("STATION_FORMULARY", raising=False)
    monkeypatch.delenv("STATION_WORKLIST", raising=False)
    data = StationConfig().data
    assert data.formulary_path == catalog_files.SAMPLE_DIR / "formulary.toml"
    assert data.worklist_path == catalog_files.SAMPLE_DIR / "worklist.toml"
    assert data.formulary_path.is_file()
    assert data.worklist_path.is_file()
    chosen = DataConfig(formulary=Path("/srv/f.toml"), worklist=Path("/srv/w.toml"))
    assert chosen.formulary_path == Path("/srv/f.toml")
    assert chosen.worklist_path == Path("/srv/w.toml")


@pytest.mark.parametrize(
    ("balance_port", "camera_source", "setting", "demo", "shown"),
    [
        ("simulated", "simulated", None, True, True),
        ("/dev/ttyUSB0", "simulated", None, False, False),
        ("simulated", 0, None, False, False),
        ("simulated", "simulated", False, True, False),
        ("COM3", 1, True, False, True),
    ],
)
def test_demo_passwords_follow_the_simulators_unless_set(
    balance_port, camera_source, setting, demo, shown
):
    config = StationConfig(
        balance=BalanceConfig(port=balance_port),
        camera=CameraConfig(source=camera_source),
        demo_passwords=setting,
    )
    assert config.demo is demo
    assert config.show_passwords is shown


# ---------------------------------------------------------------- a full file


def test_a_full_file_is_read(tmp_path):
    config = load_config(write(tmp_path, FULL))
    assert config == FULL_CONFIG
    assert not config.demo
    assert not config.show_passwords
    assert config.camera.device_index == 0
    assert config.balance.serial_settings == SerialSettings(
        19200, 7, Parity.EVEN, 2, Handshake.NONE
    )
    assert config.scanner.serial_settings == SerialSettings(baudrate=115200)


def test_the_site_tolerance_is_five_percent_unless_set(tmp_path):
    assert load_config(None).site.tolerance == Tolerance(Decimal("0.05"))
    assert load_config(write(tmp_path, "[site]\n")).site.tolerance == Tolerance(Decimal("0.05"))
    set_ = load_config(write(tmp_path, '[site]\ntolerance = " 2.5 %"'))
    assert set_.site.tolerance == Tolerance(Decimal("0.025"))
    assert 'tolerance = "2.5%"' in to_toml(set_)


def test_unset_serial_fields_take_the_protocol_defaults():
    config = config_from_mapping({"balance": {"protocol": "and", "baudrate": 9600}})
    factory = PROTOCOLS["and"].settings
    assert config.balance.baudrate == 9600
    assert config.balance.bytesize is None
    assert config.balance.serial_settings == SerialSettings(
        9600, factory.bytesize, factory.parity, factory.stopbits, factory.handshake
    )


@pytest.mark.parametrize(("written", "parity"), [
    ("none", Parity.NONE), ("Even", Parity.EVEN), ("ODD", Parity.ODD), ("E", Parity.EVEN),
    ("n", Parity.NONE), ("o", Parity.ODD),
])
def test_parity_by_name_or_letter(written, parity):
    assert config_from_mapping({"balance": {"parity": written}}).balance.parity is parity


@pytest.mark.parametrize(("written", "source"), [
    ("simulated", "simulated"), (0, 0), (2, 2), ("1", 1), (" 3 ", 3),
])
def test_camera_sources(written, source):
    assert config_from_mapping({"camera": {"source": written}}).camera.source == source


@pytest.mark.parametrize(("written", "grams"), [
    ("0.01", Decimal("0.01")), (" 0.0001 ", Decimal("0.0001")), ("0.010", Decimal("0.010")),
    (1, Decimal(1)),
])
def test_a_readability_is_grams_kept_as_written(written, grams):
    readability = config_from_mapping({"balance": {"protocol": "sbi",
                                                   "readability": written}}).balance.readability
    assert readability == grams and str(readability) == str(grams)


def test_a_readability_is_written_in_quotes_and_commented_when_absent():
    assert 'readability = "0.01"' in to_toml(
        StationConfig(balance=BalanceConfig(protocol="ohaus", readability=Decimal("0.01"))))
    assert '# readability = "0.01"' in to_toml(StationConfig())


def test_serial_numbers_written_as_text_are_accepted():
    config = config_from_mapping(
        {"balance": {"baudrate": "4800"}, "scanner": {"baudrate": "19200"}}
    )
    assert config.balance.baudrate == 4800
    assert config.scanner.baudrate == 19200


@pytest.mark.parametrize("blank", ["", "   "])
def test_blank_optional_values_are_absent(blank):
    config = config_from_mapping({
        "station": {"check_tolerance": blank},
        "record": {"url": blank},
        "balance": {"expected_serial": blank, "parity": blank, "readability": blank},
        "scanner": {"port": blank},
        "data": {"formulary": blank, "worklist": blank},
    })
    assert config == StationConfig()


@pytest.mark.parametrize("url", [
    "postgresql://user:secret@db.example:5432/station",
    "postgresql+psycopg://station@db.example/ivstation",
    "sqlite:////var/lib/iv-station/station.db",
    "sqlite://",
    "sqlite:///:memory:",
])
def test_database_urls_kept_as_written(url):
    assert config_from_mapping({"record": {"url": url}}).record.url == url


# ---------------------------------------------------------------- refusals, word for word

ERRORS = [
    ('[balance]\nprotocol = "foo"',
     "balance.protocol: unknown protocol 'foo'; expected one of mt-sics, sbi, ohaus, and"),
    ('[balnce]\nport = "COM3"',
     "balnce: unknown table; expected one of station, site, record, balance, camera, scanner,"
     " data, labels, demo"),
    ('id = "hood-1"',
     "id: unknown table; expected one of station, site, record, balance, camera, scanner, data,"
     " labels, demo"),
    ("[balance]\nspeed = 9600",
     "balance.speed: unknown key; expected one of port, protocol, baudrate, bytesize, parity,"
     " stopbits, expected_serial, readability"),
    ("[demo]\nshow = true", "demo.show: unknown key; expected one of show_passwords"),
    ("balance = 3", "balance: expected a table [balance], got the integer 3"),
    ('camera = "simulated"', "camera: expected a table [camera], got the string 'simulated'"),
    ("[station]\nname = true", "station.name: expected a string, got the boolean true"),
    ("[station]\nid = 7", "station.id: expected a string, got the integer 7"),
    ('[station]\nid = "hood 1"',
     "station.id: 'hood 1' is not a station id; expected 1 to 64 letters, digits, '.', '_' or"
     " '-', starting with a letter or digit"),
    ('[station]\nid = ""',
     "station.id: '' is not a station id; expected 1 to 64 letters, digits, '.', '_' or '-',"
     " starting with a letter or digit"),
    ("[station]\ncheck_weight = 100.0",
     'station.check_weight: expected a number of grams in quotes, such as "100.000", got the'
     " number 100.0"),
    ('[station]\ncheck_weight = "1OO"',
     'station.check_weight: expected a number of grams in quotes, such as "100.000", got the'
     " string '1OO'"),
    ('[station]\ncheck_weight = ""',
     'station.check_weight: expected a number of grams in quotes, such as "100.000", got an'
     " empty string"),
    ('[station]\ncheck_weight = "0"', "station.check_weight: expected more than 0 g, got '0'"),
    ('[station]\ncheck_weight = "NaN"',
     "station.check_weight: expected more than 0 g, got 'NaN'"),
    ('[station]\ncheck_tolerance = "-0.05"',
     "station.check_tolerance: expected more than 0 g, got '-0.05'"),
    ("[station]\ncheck_tolerance = 0", "station.check_tolerance: expected more than 0 g, got 0"),
    ("[site]\ntolerance = 5",
     'site.tolerance: expected a percentage in quotes, such as "5%", got the integer 5'),
    ('[site]\ntolerance = "5"', "site.tolerance: tolerance '5' is not a percentage, e.g. '5%'"),
    ('[site]\ntolerance = "0%"', "site.tolerance: tolerance 0% must be above 0% and below 100%"),
    ('[site]\ntolerance = "15%"',
     "site.tolerance: ±15% is wider than the ±10% a site may set: a wrong dose would pass"),
    ('[site]\ntolerance = "five%"', "site.tolerance: tolerance 'five' is not a decimal number"),
    ('[record]\nurl = "mysql://db/station"',
     "record.url: 'mysql://db/station' is not a database URL the station can use; expected"
     " sqlite:///PATH or postgresql+psycopg://USER@HOST/DATABASE"),
    ("[record]\nurl = 5432", "record.url: expected a database URL in quotes, got the integer 5432"),
    ('[balance]\nport = ""',
     'balance.port: expected "simulated" or a serial port such as /dev/ttyUSB0, COM3 or'
     " socket://host:4001, got an empty string"),
    ("[balance]\nport = 0", "balance.port: expected a serial port in quotes, got the integer 0"),
    ('[balance]\nport = "tcp://10.0.0.5:4001"',
     "balance.port: unknown port URL scheme 'tcp'; expected a device such as /dev/ttyUSB0 or"
     " COM3, or a URL starting with one of socket, rfc2217, loop, spy, alt, hwgrep, cp2110"),
    ("[balance]\nbaudrate = 0", "balance.baudrate: baud rate must be positive, got 0"),
    ("[balance]\nbaudrate = 96.0",
     "balance.baudrate: expected an integer such as 9600, got the number 96.0"),
    ('[balance]\nbaudrate = "fast"',
     "balance.baudrate: expected an integer such as 9600, got the string 'fast'"),
    ("[balance]\nbytesize = 9", "balance.bytesize: data bits must be 7 or 8, got 9"),
    ("[balance]\nbytesize = true", "balance.bytesize: expected 7 or 8, got the boolean true"),
    ("[balance]\nstopbits = 3", "balance.stopbits: stop bits must be 1 or 2, got 3"),
    ('[balance]\nparity = "mark"',
     "balance.parity: unknown parity 'mark'; expected one of none, even, odd"),
    ("[balance]\nexpected_serial = 1234",
     "balance.expected_serial: expected a string, got the integer 1234"),
    ("[balance]\nreadability = 0.01",
     'balance.readability: expected a number of grams in quotes, such as "0.01", got the'
     " number 0.01"),
    ('[balance]\nreadability = "0.01 g"',
     'balance.readability: expected a number of grams in quotes, such as "0.01", got the'
     " string '0.01 g'"),
    ('[balance]\nreadability = "0"', "balance.readability: expected more than 0 g, got '0'"),
    ('[balance]\nreadability = "-0.01"',
     "balance.readability: expected more than 0 g, got '-0.01'"),
    ('[balance]\nreadability = "Infinity"',
     "balance.readability: expected more than 0 g, got 'Infinity'"),
    ("[balance]\nreadability = true",
     'balance.readability: expected a number of grams in quotes, such as "0.01", got the'
     " boolean true"),
    ('[camera]\nsource = ""',
     'camera.source: expected "simulated", a device index such as 0, or a folder of images,'
     " got an empty string"),
    ("[camera]\nsource = 1.5",
     'camera.source: expected "simulated", a device index such as 0, or a folder of images,'
     " got the number 1.5"),
    ("[camera]\nsource = -1", "camera.source: expected a device index of 0 or more, got -1"),
    ('[camera]\nfps = "fast"',
     "camera.fps: expected a number of frames per second above 0, such as 15, got the string"
     " 'fast'"),
    ("[camera]\nfps = 0",
     "camera.fps: expected a number of frames per second above 0, such as 15, got the integer"
     " 0"),
    ("[camera]\nfps = inf",
     "camera.fps: expected a number of frames per second above 0, such as 15, got the number"
     " inf"),
    ("[scanner]\nbaudrate = -5", "scanner.baudrate: baud rate must be positive, got -5"),
    ("[scanner]\nport = [1, 2]", "scanner.port: expected a serial port in quotes, got an array"),
    ("[data]\nformulary = 3", "data.formulary: expected a file path in quotes, got the integer 3"),
    ("[data]\nworklist = 2026-01-01",
     "data.worklist: expected a file path in quotes, got the date/time 2026-01-01"),
    ('[demo]\nshow_passwords = "yes"',
     "demo.show_passwords: expected true or false, got the string 'yes'"),
    ("[demo.show_passwords]", "demo.show_passwords: expected true or false, got a table"),
    ('[station]\niso5 = "yes"', "station.iso5: expected true or false, got the string 'yes'"),
    ('[labels]\nprinter = "lpt1"',
     "labels.printer: 'lpt1' is not a printer; expected tcp://HOST:9100, cups://QUEUE or"
     " file://PATH"),
    ('[labels]\nprinter = "tcp://zebra:99999"',
     "labels.printer: 'tcp://zebra:99999': expected tcp://HOST or tcp://HOST:PORT, port 1 to"
     " 65535"),
    ('[labels]\nprinter = "cups://-o raw"', "labels.printer: '-o raw' is not a CUPS queue name"),
    ("[labels]\nprinter = 9100",
     "labels.printer: expected tcp://HOST:9100, cups://QUEUE or file://PATH in quotes, got the"
     " integer 9100"),
    ('[labels]\nsize = "4x3 in"',
     'labels.size: expected WIDTHxHEIGHT in millimetres in quotes, such as "101.6x76.2", got'
     " the string '4x3 in'"),
    ('[labels]\nvial_size = "0x25"',
     'labels.vial_size: expected WIDTHxHEIGHT in millimetres in quotes, such as "101.6x76.2",'
     " got the string '0x25'"),
    ("[labels]\ndpi = 200", "labels.dpi: expected 152, 203, 300 or 600 dots per inch, got 200"),
    ("[labels]\nspeed = 4",
     "labels.speed: unknown key; expected one of printer, size, vial_size, dpi"),
]


@pytest.mark.parametrize(("text", "message"), ERRORS)
def test_each_refusal_names_the_file_the_key_and_what_was_expected(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}: {message}"
    assert caught.value.source == str(path)
    assert caught.value.key == message.partition(":")[0]
    assert caught.value.problem == message.partition(": ")[2]


def test_a_config_error_is_a_station_error():
    assert issubclass(ConfigError, StationError)


def test_broken_toml_is_refused_with_the_parser_words(tmp_path):
    path = write(tmp_path, "[balance\nport = 1")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == (
        f"{path}: not valid TOML: Expected ']' at the end of a table declaration (at line 1,"
        " column 9)"
    )
    assert caught.value.key is None


def test_an_unreadable_path_is_refused(tmp_path):
    folder = tmp_path / "station.toml"
    folder.mkdir()
    with pytest.raises(ConfigError) as caught:
        load_config(folder)
    assert str(caught.value) == f"{folder}: cannot read: Is a directory"


def test_the_mapping_reader_names_its_source():
    with pytest.raises(ConfigError) as caught:
        config_from_mapping({"camera": {"fps": -1}}, source="settings")
    assert str(caught.value) == (
        "settings: camera.fps: expected a number of frames per second above 0, such as 15,"
        " got the integer -1"
    )


# ---------------------------------------------------------------- paths


def test_relative_paths_are_read_against_the_files_folder(tmp_path, monkeypatch):
    folder = tmp_path / "etc"
    folder.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    path = write(folder, """\
[record]
url = "sqlite:///data/station.db?timeout=5"
[camera]
source = "images"
[data]
formulary = "catalog/formulary.toml"
worklist = "../shared/worklist.toml"
""")
    config = load_config(path)
    assert config.record.url == f"sqlite:///{folder / 'data' / 'station.db'}?timeout=5"
    assert config.camera.source == folder / "images"
    assert config.camera.folder == folder / "images"
    assert config.camera.device_index is None
    assert config.data.formulary == folder / "catalog" / "formulary.toml"
    assert config.data.worklist == folder / ".." / "shared" / "worklist.toml"


def test_a_relative_config_path_uses_the_working_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, '[data]\nformulary = "f.toml"')
    assert load_config(Path("station.toml")).data.formulary == tmp_path / "f.toml"


def test_absolute_and_home_paths_stay_put(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    path = write(tmp_path, '[data]\nformulary = "/srv/f.toml"\nworklist = "~/w.toml"')
    config = load_config(path)
    assert config.data.formulary == Path("/srv/f.toml")
    assert config.data.worklist == tmp_path / "home" / "w.toml"


def test_default_path_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("STATION_CONFIG", str(tmp_path / "site.toml"))
    assert default_config_path() == tmp_path / "site.toml"
    monkeypatch.setenv("STATION_CONFIG", "")
    expected = platformdirs.user_config_path("iv-station") / "station.toml"
    assert default_config_path() == expected
    monkeypatch.delenv("STATION_CONFIG")
    assert default_config_path() == expected


# ---------------------------------------------------------------- writing


def test_the_demo_round_trips(tmp_path):
    path = tmp_path / "station.toml"
    write_config(StationConfig(), path)
    assert load_config(path) == StationConfig()


def test_a_full_config_round_trips(tmp_path):
    path = tmp_path / "new" / "folder" / "station.toml"
    write_config(FULL_CONFIG, path)
    assert load_config(path) == FULL_CONFIG
    assert os.listdir(path.parent) == ["station.toml"]


def test_the_written_file_is_commented_and_sets_only_what_was_chosen(tmp_path):
    text = to_toml(StationConfig(balance=BalanceConfig(port="COM3", baudrate=4800)))
    document = tomllib.loads(text)
    assert document["balance"] == {"port": "COM3", "protocol": "mt-sics", "baudrate": 4800}
    assert "# bytesize = 8" in text
    assert '# parity = "none"' in text
    assert "[record]" in text
    assert "# url = " in text
    assert text.startswith("# IV compounding station configuration.\n")
    assert max(len(line) for line in text.splitlines()) <= 100
    commented = [line for line in text.splitlines() if line.startswith("#")]
    assert len(commented) > 30


def test_commented_defaults_show_the_chosen_protocols_factory_settings():
    text = to_toml(StationConfig(balance=BalanceConfig(protocol="and")))
    assert "# baudrate = 2400" in text
    assert "# bytesize = 7" in text
    assert '# parity = "even"' in text


def test_strings_are_escaped(tmp_path):
    config = StationConfig(station=StationSection(name='Hood "A"\\B\ttab\nnew line \x00\x7f é ✓'))
    path = tmp_path / "station.toml"
    write_config(config, path)
    assert load_config(path) == config


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "station.toml"
    write_config(StationConfig(station=StationSection(name="old")), path)
    before = path.read_text(encoding="utf-8")

    def refuse(source, target):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(config_module.os, "replace", refuse)
    with pytest.raises(ConfigError) as caught:
        write_config(StationConfig(station=StationSection(name="new")), path)
    assert str(caught.value) == f"{path}: cannot write: No space left on device"
    assert path.read_text(encoding="utf-8") == before
    assert os.listdir(tmp_path) == ["station.toml"]


def test_replacing_a_file_keeps_its_permissions(tmp_path):
    path = tmp_path / "station.toml"
    path.write_text("", encoding="utf-8")
    path.chmod(0o640)
    write_config(StationConfig(station=StationSection(name="kept")), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert load_config(path).station.name == "kept"


def test_a_new_file_is_private(tmp_path):
    """A database URL may carry a password: a new file is readable by its owner only."""
    path = tmp_path / "station.toml"
    write_config(FULL_CONFIG, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_config_that_would_not_read_back_is_not_written(tmp_path):
    path = tmp_path / "station.toml"
    bad = StationConfig(balance=BalanceConfig(protocol="sbi", baudrate=0))
    with pytest.raises(ConfigError) as caught:
        write_config(bad, path)
    assert str(caught.value) == f"{path}: balance.baudrate: baud rate must be positive, got 0"
    assert not path.exists()


# ---------------------------------------------------------------- round-trip property

_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
_NONBLANK = _TEXT.map(str.strip).filter(bool)

_BALANCES = st.builds(
    BalanceConfig,
    port=st.sampled_from(["simulated", "/dev/ttyUSB0", "COM3", "socket://10.0.0.5:4001"]),
    protocol=st.sampled_from(sorted(PROTOCOLS)),
    baudrate=st.none() | st.sampled_from([1200, 2400, 4800, 9600, 19200, 38400, 115200]),
    bytesize=st.none() | st.sampled_from([7, 8]),
    parity=st.none() | st.sampled_from(list(Parity)),
    stopbits=st.none() | st.sampled_from([1, 2]),
    expected_serial=st.none() | _NONBLANK,
    readability=st.none() | st.sampled_from(
        [Decimal("0.0001"), Decimal("0.001"), Decimal("0.010"), Decimal("0.1"), Decimal("1")]),
)
_CAMERAS = st.builds(
    CameraConfig,
    source=st.just("simulated") | st.integers(0, 9) | st.just(Path("/srv/images")),
    fps=st.floats(min_value=0.01, max_value=240, allow_nan=False, allow_infinity=False),
)
_GRAMS = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("100000"), places=4)
_CONFIGS = st.builds(
    StationConfig,
    station=st.builds(
        StationSection,
        id=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", fullmatch=True),
        name=_TEXT,
        check_weight=_GRAMS,
        check_tolerance=st.none() | _GRAMS,
        iso5=st.booleans(),
    ),
    site=st.builds(SiteSection, tolerance=st.sampled_from(
        [Tolerance(Decimal(f)) for f in ("0.05", "0.025", "0.1", "0.001", "0.075")])),
    record=st.builds(RecordConfig, url=st.none() | st.just("postgresql://u:p@h/db")),
    balance=_BALANCES,
    camera=_CAMERAS,
    scanner=st.builds(ScannerConfig, port=st.none() | st.just("/dev/ttyACM0"),
                      baudrate=st.integers(1, 10**6)),
    data=st.builds(DataConfig, formulary=st.none() | st.just(Path("/srv/f.toml"))),
    labels=st.builds(
        LabelsSection,
        printer=st.none() | st.sampled_from(["tcp://10.0.0.5:9100", "tcp://zebra",
                                             "cups://Zebra_GK420d", "file:///srv/labels.zpl"]),
        size=st.sampled_from(["101.6x76.2", "101.6x152.4", "57.15x31.75"]),
        vial_size=st.sampled_from(["57.15x31.75", "50.8x25.4"]),
        dpi=st.sampled_from([152, 203, 300, 600]),
    ),
    demo_passwords=st.none() | st.booleans(),
)


@given(_CONFIGS)
def test_every_config_reads_back_as_written(config):
    text = to_toml(config)
    assert config_from_mapping(tomllib.loads(text), base=Path("/elsewhere")) == config


# ---------------------------------------------------------------- the documentation

DOCS = Path(__file__).resolve().parents[3] / "docs" / "configuration.md"


def test_the_documented_example_is_a_valid_file(tmp_path):
    text = DOCS.read_text(encoding="utf-8")
    blocks = [block.partition("\n")[2] for block in text.split("```toml")[1:]]
    assert len(blocks) == 1
    example = blocks[0].partition("```")[0]
    config = load_config(write(tmp_path, example))
    assert config == StationConfig(
        station=StationSection(id="hood-3", name="Cleanroom 2, left hood",
                               check_weight=Decimal("100.0000")),
        record=RecordConfig(url="postgresql+psycopg://station@db.pharmacy.example/ivstation"),
        balance=BalanceConfig(port="/dev/ttyUSB0", protocol="mt-sics",
                              expected_serial="B936102145"),
        camera=CameraConfig(source=0, fps=15.0),
        data=DataConfig(formulary=Path("/srv/pharmacy/formulary.toml"),
                        worklist=Path("/srv/pharmacy/worklist.toml")),
    )
    assert config.balance.serial_settings == SerialSettings(9600, 8, Parity.NONE, 1)
    assert not config.show_passwords


def test_labels_default_to_a_file_in_the_data_folder_and_hoods_to_iso5(tmp_path):
    config = load_config(None)
    assert config.station.iso5
    assert config.labels == LabelsSection(printer=None, size="101.6x76.2",
                                          vial_size="57.15x31.75", dpi=203)
    assert config.labels.printer_url(tmp_path) == (
        f"file://{tmp_path / 'labels' / 'last-label.zpl'}")
    assert "# printer = " in to_toml(config) and "iso5 = true" in to_toml(config)


def test_a_relative_label_file_is_read_against_the_files_folder(tmp_path):
    config = load_config(write(tmp_path, '[labels]\nprinter = "file://out/label.zpl"\n'))
    assert config.labels.printer == f"file://{tmp_path / 'out' / 'label.zpl'}"
    assert config.labels.printer_url(Path("/elsewhere")) == config.labels.printer


def test_the_documentation_names_every_key():
    text = DOCS.read_text(encoding="utf-8")
    for table, keys in config_module._TABLES.items():
        assert f"### `[{table}]`" in text
        for key in keys:
            assert f"| `{key}` |" in text, f"{table}.{key}"


def test_the_readme_example_loads():
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")
    block = readme.split("```toml\n", 1)[1].split("```", 1)[0]
    config = config_from_mapping(tomllib.loads(block), source="README.md")
    assert not config.demo
    assert (config.balance.protocol, config.camera.device_index) == ("mt-sics", 0)
