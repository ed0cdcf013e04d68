"""The decode pipeline on real photographs, generated symbols, and the `station decode` command.

Recall floors are set a few points below what the pipeline reads today, so they fail when a
change (or a decoder upgrade) loses images; the pipeline must also read every image that
either decoder reads alone. Misreads seen on these photographs are recorded exactly, and none
may look like an NDC.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
import zxingcpp

from station.core.scan import parse_scan
from station.devices.decoding import (
    DecodePipeline,
    ImageError,
    Symbol,
    decode_with_pyzbar,
    decode_with_zxing,
    deduplicate,
    read_image,
)

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = ROOT / "fixtures" / "barcodes" / "zxing-cpp"
STATION = Path(sys.executable).with_name("station")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp"}
# ean13-2/23.txt names the book beside the one photographed; the digits under the bars are these.
CORRECTIONS = {"ean13-2/23.webp": "9784872348880"}

SYMBOLOGIES = {
    "ean13": ("ean13-1", "ean13-2"),
    "upca": ("upca-1", "upca-2", "upca-3"),
    "upce": ("upce-1", "upce-2"),
    "ean8": ("ean8-1",),
    "code128": ("code128-1", "code128-2"),
    "datamatrix": ("datamatrix-1", "datamatrix-2", "datamatrix-3"),
    "databar": ("rss14-1", "databarltd-1"),
    "databar-expanded": ("rssexpanded-1", "rssexpandedstacked-2"),
}
# Measured (zxing-cpp 3.1.1, pyzbar 0.1.9 on zbar 0.23): images read, pipeline / zxing-cpp
# alone / pyzbar alone / either alone:
#   ean13 28/20/23/27 of 32   upca 31/27/26/29 of 37   upce 17/13/12/14 of 18
#   ean8 9/9/8/9 of 9         code128 20/20/18/20 of 20  datamatrix 68/68/0/68 of 69
#   databar 14/13/10/13 of 15   databar-expanded 39/39/37/39 of 39
FLOORS = {
    "ean13": 0.80,
    "upca": 0.78,
    "upce": 0.88,
    "ean8": 0.88,
    "code128": 0.95,
    "datamatrix": 0.95,
    "databar": 0.86,
    "databar-expanded": 0.95,
}

# Every check-digit-valid misread seen on these photographs: (image, decoder) -> text read.
# None carries the NDC prefix; the pipeline shows zxing-cpp's two and, beside the right
# reading where ZBar's check of the region disagrees, ZBar's.
KNOWN_MISREADS = {
    ("ean13-1/35.webp", "zxing-cpp"): "7034759003930",  # is 5030159003930
    ("upca-2/48.webp", "zxing-cpp"): "1077778003259",  # is 0075720003259
    ("upca-2/25.webp", "pyzbar"): "9711010200137",  # is 0752050200137
    ("upca-2/32.webp", "pyzbar"): "0899624007003",  # is 0899684001003
    ("upca-2/38.webp", "pyzbar"): "0022121000066",  # is 0012546619592
    ("upca-2/39.webp", "pyzbar"): "6087746619592",  # is 0012546619592
    # Not a check-digit matter: ZBar has no Code 128 FNC4 (extended characters).
    ("code128-1/6.png", "pyzbar"): "ssss1234ssabszz",  # is óóóó1234óóabózz
}
PIPELINE_MISREADS = {
    ("ean13-1/35.webp", "zxing-cpp"),
    ("upca-2/48.webp", "zxing-cpp"),
    ("upca-2/38.webp", "pyzbar"),
    ("upca-2/39.webp", "pyzbar"),
}


@dataclass(frozen=True)
class Photo:
    name: str
    folder: str
    image: np.ndarray
    expected: str


def _photos() -> list[Photo]:
    photos = []
    for folder in sorted(p for p in SAMPLES.iterdir() if p.is_dir()):
        for path in sorted(folder.iterdir()):
            expected = path.with_suffix(".txt")
            if path.suffix not in IMAGE_SUFFIXES or not expected.exists():
                continue
            name = f"{folder.name}/{path.name}"
            text = CORRECTIONS.get(name, expected.read_text(encoding="utf-8").strip())
            photos.append(Photo(name, folder.name, read_image(str(path)), text))
    return photos


DECODERS = {
    "pipeline": DecodePipeline().decode,
    "zxing-cpp": decode_with_zxing,
    "pyzbar": decode_with_pyzbar,
}


@pytest.fixture(scope="module")
def decoded() -> dict[str, dict[str, tuple[Photo, list[Symbol]]]]:
    """Each decoder's symbols for each photograph, by decoder name and image name."""
    photos = _photos()
    return {name: {p.name: (p, decode(p.image)) for p in photos}
            for name, decode in DECODERS.items()}


def _read(results: dict[str, tuple[Photo, list[Symbol]]], folders: tuple[str, ...]) -> set[str]:
    return {
        name for name, (photo, symbols) in results.items()
        if photo.folder in folders and photo.expected in {s.text for s in symbols}
    }


def _count(results: dict[str, tuple[Photo, list[Symbol]]], folders: tuple[str, ...]) -> int:
    return sum(1 for photo, _ in results.values() if photo.folder in folders)


def test_every_symbology_folder_is_counted(decoded):
    folders = {photo.folder for photo, _ in decoded["pipeline"].values()}
    grouped = {f for group in SYMBOLOGIES.values() for f in group}
    assert folders == grouped


@pytest.mark.parametrize("symbology", list(SYMBOLOGIES))
def test_pipeline_recall_stays_above_its_floor(decoded, symbology):
    folders = SYMBOLOGIES[symbology]
    read = len(_read(decoded["pipeline"], folders))
    total = _count(decoded["pipeline"], folders)
    assert read / total >= FLOORS[symbology], f"{symbology}: read {read} of {total}"


@pytest.mark.parametrize("symbology", list(SYMBOLOGIES))
def test_pipeline_reads_every_image_either_decoder_reads_alone(decoded, symbology):
    folders = SYMBOLOGIES[symbology]
    union = _read(decoded["zxing-cpp"], folders) | _read(decoded["pyzbar"], folders)
    assert union - _read(decoded["pipeline"], folders) == set()


def test_the_retry_and_second_decoder_add_images_zxing_alone_misses(decoded):
    folders = tuple(f for group in SYMBOLOGIES.values() for f in group)
    gained = _read(decoded["pipeline"], folders) - _read(decoded["zxing-cpp"], folders)
    assert len(gained) >= 15


def _is_ndc_shaped(text: str) -> bool:
    """A GTIN with the 03 NDC prefix after the packaging indicator (UPC-A 3…, GTIN-14 N03…)."""
    return text.isdigit() and len(text) <= 14 and text.zfill(14)[1:3] == "03"


def _misreads(decoded: dict[str, dict[str, tuple[Photo, list[Symbol]]]],
              decoder: str) -> dict[tuple[str, str], str]:
    return {
        (name, symbol.decoder): symbol.text
        for name, (photo, symbols) in decoded[decoder].items()
        for symbol in symbols
        if symbol.text != photo.expected
    }


def test_misreads_on_the_photographs_are_the_recorded_ones(decoded):
    seen = _misreads(decoded, "zxing-cpp") | _misreads(decoded, "pyzbar")
    assert seen == KNOWN_MISREADS


def test_the_pipeline_lists_a_misread_beside_the_right_reading_when_the_decoders_disagree(
    decoded,
):
    assert set(_misreads(decoded, "pipeline")) == PIPELINE_MISREADS
    photo, symbols = decoded["pipeline"]["upca-2/48.webp"]
    assert [(s.decoder, s.text) for s in symbols] == [
        ("zxing-cpp", "1077778003259"), ("pyzbar", photo.expected)
    ]


def test_no_misread_is_ndc_shaped(decoded):
    for decoder in DECODERS:
        for (name, by), text in _misreads(decoded, decoder).items():
            assert not _is_ndc_shaped(text), f"{by} read {text!r} in {name}"


FALSE_POSITIVES = SAMPLES / "falsepositives-1"
# OpenCV's WebP reader refuses these two (1×1 and 1×100 pixels); the arrays are tested below.
UNREADABLE = {"1x1.webp", "1x100.webp"}


@pytest.mark.parametrize("path", sorted(FALSE_POSITIVES.iterdir()), ids=lambda p: p.name)
def test_images_without_barcodes_yield_nothing(path):
    if path.name in UNREADABLE:
        with pytest.raises(ImageError, match="not an image OpenCV can decode"):
            read_image(str(path))
        return
    image = read_image(str(path))
    for decoder, decode in DECODERS.items():
        assert decode(image) == [], decoder


@pytest.mark.parametrize("shape", [(1, 1), (1, 100), (100, 1), (2, 2), (1, 1, 3), (0, 0),
                                   (0, 5, 3), (3, 3, 4)])
def test_tiny_and_empty_images_yield_nothing(shape):
    image = np.full(shape, 128, np.uint8)
    for decode in DECODERS.values():
        assert decode(image) == []


@pytest.mark.parametrize(
    ("image", "error", "message"),
    [
        (np.zeros((10, 10), np.float32), TypeError,
         "expected an 8-bit image (uint8), got float32"),
        (np.zeros((10, 10, 2), np.uint8), ValueError,
         "expected a grayscale, BGR or BGRA image, got an array of shape (10, 10, 2)"),
        ([[0, 0]], TypeError, "expected a numpy array, got list"),
    ],
)
def test_images_of_the_wrong_kind_are_refused_by_name(image, error, message):
    with pytest.raises(error) as raised:
        DecodePipeline().decode(image)
    assert str(raised.value) == message


# ------------------------------------------------------------------------------ generated

GS1_HRI = "(01)00304094888026(17)280331(10)AB123(21)XYZ9"
UPC_A = "304094888026"


def _render(content: str, barcode_format: zxingcpp.BarcodeFormat, scale: int = 4,
            **options: object) -> np.ndarray:
    barcode = zxingcpp.create_barcode(content, barcode_format, **options)
    symbol = np.asarray(zxingcpp.write_barcode_to_image(barcode, scale=scale), dtype=np.uint8)
    return cv2.copyMakeBorder(symbol, 40, 40, 40, 40, cv2.BORDER_CONSTANT, value=255)


def _on_frame(*symbols: np.ndarray) -> np.ndarray:
    """The symbols side by side on a grey 1280×720 BGR frame, slightly rotated and blurred."""
    frame = np.full((720, 1280), 110, np.uint8)
    left = 200
    for symbol in symbols:
        height, width = symbol.shape
        frame[200:200 + height, left:left + width] = symbol
        left += width + 20
    turn = cv2.getRotationMatrix2D((640, 360), 7, 1.0)
    frame = cv2.warpAffine(frame, turn, (1280, 720), borderValue=110)
    return cv2.cvtColor(cv2.GaussianBlur(frame, (0, 0), 0.7), cv2.COLOR_GRAY2BGR)


def test_a_gs1_datamatrix_decodes_raw_with_d2_and_parses_back():
    image = _render(GS1_HRI, zxingcpp.BarcodeFormat.DataMatrix, gs1=True, forceSquare=True)
    [symbol] = DecodePipeline().decode(image)
    assert (symbol.format, symbol.symbology_identifier, symbol.decoder) == (
        "GS1 DataMatrix", "]d2", "zxing-cpp")
    assert symbol.text == "01003040948880261728033110AB123\x1d21XYZ9"
    assert symbol.is_matrix and not symbol.is_linear
    identity = parse_scan(symbol.scan_text, reference_year=2026)
    assert (str(identity.gtin), identity.ndc10, str(identity.expiry), str(identity.lot),
            str(identity.serial)) == ("00304094888026", "0409488802", "2028-03-31", "AB123",
                                      "XYZ9")


def test_a_rectangular_extension_datamatrix_reports_d8_and_still_parses_as_gs1():
    # zxing-cpp gives DMRE symbols (ISO/IEC 21471, here 8×64) the modifiers ]d7/]d8; zint
    # picks such a size for this content unless told to make a square one.
    image = _render(GS1_HRI, zxingcpp.BarcodeFormat.DataMatrix, gs1=True)
    [symbol] = DecodePipeline().decode(image)
    assert (symbol.format, symbol.symbology_identifier) == ("GS1 DataMatrix", "]d8")
    identity = parse_scan(symbol.scan_text, reference_year=2026)
    assert (str(identity.gtin), str(identity.lot), str(identity.serial)) == (
        "00304094888026", "AB123", "XYZ9")


@pytest.mark.parametrize("decode", [DecodePipeline().decode, decode_with_zxing,
                                    decode_with_pyzbar], ids=["pipeline", "zxing", "pyzbar"])
def test_a_upc_a_decodes_as_its_ean13_form_with_e0_and_gives_the_ndc(decode):
    [symbol] = decode(_render(UPC_A, zxingcpp.BarcodeFormat.UPCA, scale=3))
    assert (symbol.format, symbol.text, symbol.symbology_identifier) == (
        "UPC-A", "0" + UPC_A, "]E0")
    assert symbol.is_linear
    identity = parse_scan(symbol.scan_text, reference_year=2026)
    assert (str(identity.gtin), identity.ndc10) == ("00304094888026", "0409488802")


def test_the_pipeline_reads_both_symbols_of_a_label_on_a_720p_frame():
    frame = _on_frame(_render(UPC_A, zxingcpp.BarcodeFormat.UPCA, scale=3),
                      _render(GS1_HRI, zxingcpp.BarcodeFormat.DataMatrix, scale=5, gs1=True,
                              forceSquare=True))
    symbols = DecodePipeline().decode(frame)
    assert sorted(s.scan_text for s in symbols) == [
        "]E00304094888026", "]d201003040948880261728033110AB123\x1d21XYZ9"]
    for symbol in symbols:
        assert len(symbol.position) == 4
        assert all(0 <= x < 1280 and 0 <= y < 720 for x, y in symbol.position)


def test_pyzbar_results_get_the_aim_identifier_zbar_knows_including_gs1_128():
    gs1 = _render("(01)00304094888026(10)AB1(17)280331", zxingcpp.BarcodeFormat.Code128,
                  scale=2, gs1=True)
    plain = _render("HELLO123", zxingcpp.BarcodeFormat.Code128, scale=2)
    [by_zbar] = decode_with_pyzbar(gs1)
    [by_zxing] = decode_with_zxing(gs1)
    assert by_zbar.scan_text == by_zxing.scan_text == "]C1010030409488802610AB1\x1d17280331"
    assert by_zbar.format == by_zxing.format == "GS1-128"
    assert [(s.format, s.scan_text) for s in decode_with_pyzbar(plain)] == [
        ("Code128", "]C0HELLO123")]
    identity = parse_scan(by_zbar.scan_text, reference_year=2026)
    assert (str(identity.lot), str(identity.expiry)) == ("AB1", "2028-03-31")


def test_databar_reads_with_e0_and_the_01_prefix():
    # zint takes the GTIN-14 without its check digit and adds it.
    [symbol] = decode_with_zxing(_render("0030409488802", zxingcpp.BarcodeFormat.DataBar))
    assert (symbol.format, symbol.scan_text) == ("DataBar", "]e00100304094888026")
    assert str(parse_scan(symbol.scan_text, reference_year=2026).gtin) == "00304094888026"


def test_the_same_symbol_from_both_decoders_is_listed_once_zxing_first():
    corners = ((10, 10), (110, 10), (110, 60), (10, 60))
    by_zbar = Symbol("UPC-A", "0304094888026", "]E0", ((12, 30), (108, 30), (108, 40),
                                                        (12, 40)), "pyzbar")
    by_zxing = Symbol("UPC-A", "0304094888026", "]E0", corners, "zxing-cpp")
    elsewhere = Symbol("UPC-A", "0304094888026", "]E0",
                       tuple((x + 500, y) for x, y in corners), "pyzbar")
    other = Symbol("EAN-13", "1304094888023", "]E0", corners, "pyzbar")
    assert deduplicate([by_zxing, by_zbar, elsewhere, other]) == [by_zxing, elsewhere, other]


def test_decoding_from_several_threads_gives_the_same_results():
    images = [photo.image for photo in _photos()[::6]]
    pipeline = DecodePipeline()
    expected = [pipeline.decode(image) for image in images]
    results: dict[int, list[list[Symbol]]] = defaultdict(list)
    start = threading.Barrier(4)

    def work(worker: int) -> None:
        start.wait()
        for image in images:
            results[worker].append(pipeline.decode(image))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(results[n] == expected for n in range(4))


# ------------------------------------------------------------------------------ command


def _station(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(STATION), *args], capture_output=True, text=True, timeout=120,
                          check=False, cwd=ROOT)


def test_decode_json_lists_images_in_order_with_an_error_entry_and_exits_1(tmp_path):
    not_an_image = tmp_path / "label.png"
    not_an_image.write_text("not a picture")
    first = "fixtures/barcodes/zxing-cpp/upca-1/2.webp"
    last = "fixtures/barcodes/zxing-cpp/datamatrix-3/#794.png"
    result = _station("decode", "--json", first, str(not_an_image), "missing.png", last)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    entries = json.loads(result.stdout)
    assert [e["image"] for e in entries] == [first, str(not_an_image), "missing.png", last]
    assert entries[1] == {"image": str(not_an_image),
                          "error": f"cannot read {not_an_image}: not an image OpenCV can "
                                   "decode (PNG, JPEG, WebP, BMP, TIFF …)"}
    assert entries[2] == {"image": "missing.png", "error": "cannot read missing.png: no such file"}
    upc, dm = entries[0], entries[3]
    assert upc["ms"] > 0 and dm["ms"] > 0
    assert [(s["format"], s["text"], s["symbology_identifier"], s["decoder"])
            for s in upc["symbols"]] == [("UPC-A", "0036602301467", "]E0", "zxing-cpp")]
    [matrix] = dm["symbols"]
    assert matrix["text"] == "010890381998765921S1ND6MPPFCGG6B869XES\x1d1731063010BNav4Cam2"
    assert matrix["symbology_identifier"] == "]d2"
    assert len(matrix["position"]) == 4
    assert all(len(point) == 2 and all(isinstance(v, int) for v in point)
               for point in matrix["position"])


def test_decode_exits_0_when_every_image_is_read_and_lists_them_readably():
    image = "fixtures/barcodes/zxing-cpp/datamatrix-3/#794.png"
    result = _station("decode", image, "fixtures/barcodes/zxing-cpp/falsepositives-1/01.webp")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{image}: 1 symbol (")
    assert lines[1].split() == ["GS1", "DataMatrix", "]d2",
                                "010890381998765921S1ND6MPPFCGG6B869XES<GS>1731063010BNav4Cam2",
                                "[zxing-cpp", "at", "12,6]"]
    assert lines[2].startswith("fixtures/barcodes/zxing-cpp/falsepositives-1/01.webp: none (")


def test_decode_without_json_reports_an_unreadable_file_in_one_line_and_exits_1(tmp_path):
    result = _station("decode", str(tmp_path))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == f"station decode: cannot read {tmp_path}: is a directory, not an " \
                            "image file\n"
