"""Camera sources: frames, numbering, and how each one ends (LOST or CLOSED), never raising."""

from __future__ import annotations

import datetime as dt
import itertools
import re
import shutil
import threading

import cv2
import numpy as np
import pytest
import zxingcpp

from station.demo.camera import SimulatedCamera
from station.demo.camera_scene import Label, Scene
from station.devices import camera as camera_module
from station.devices.camera import (
    DEFAULT_FPS,
    CameraSource,
    CameraState,
    FolderCamera,
    Frame,
    OpenCvCamera,
)

VIAL = Label(ndc10="0409-4888-02", name="Lidocaine HCl", strength="2% 100 mg/5 mL",
             manufacturer="Hospira, Inc.", lot="AB1234", expiry=dt.date(2028, 2, 29),
             serial="100000234567")


def ticking_clock(start: float = 100.0, step: float = 0.5):
    ticks = itertools.count()
    return lambda: start + step * next(ticks)


def solid(value: int, size: tuple[int, int] = (48, 64)) -> np.ndarray:
    return np.full((*size, 3), value, np.uint8)


# ---------------------------------------------------------------- frames


def test_a_frame_is_a_read_only_bgr_uint8_image():
    image = solid(7)
    frame = Frame(image, 3, 1.5, "test")
    assert (frame.width, frame.height) == (64, 48)
    with pytest.raises(ValueError, match="read-only"):
        frame.image[0, 0, 0] = 1


@pytest.mark.parametrize(
    "image", [np.zeros((4, 4), np.uint8), np.zeros((4, 4, 3), np.float32),
              np.zeros((4, 4, 4), np.uint8), np.zeros((0, 4, 3), np.uint8)],
    ids=["grey", "float", "bgra", "empty"],
)
def test_a_frame_refuses_anything_but_bgr_uint8(image):
    with pytest.raises(ValueError, match=r"^a frame is a BGR uint8 image \(height, width, 3\)"):
        Frame(image, 0, 0.0, "test")


def test_every_source_satisfies_the_protocol(tmp_path):
    cv2.imwrite(str(tmp_path / "a.png"), solid(10))
    sources = [OpenCvCamera(str(tmp_path / "missing.avi")), FolderCamera(tmp_path),
               SimulatedCamera(Scene(), size=(64, 48))]
    for source in sources:
        assert isinstance(source, CameraSource)
        source.close()


# ---------------------------------------------------------------- OpenCvCamera


@pytest.fixture
def video(tmp_path):
    path = tmp_path / "hood.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    assert writer.isOpened()
    for number in range(5):
        writer.write(solid(40 * number))
    writer.release()
    return path


def test_a_video_file_plays_its_frames_in_order_then_closes_at_end_of_file(video):
    camera = OpenCvCamera(str(video), clock=ticking_clock())
    assert (camera.name, camera.state, camera.problem, camera.fps) == (
        str(video), CameraState.OPEN, "", 10.0)
    frames = [camera.read() for _ in range(5)]
    assert [f.index for f in frames if f is not None] == [0, 1, 2, 3, 4]
    assert [f.monotonic for f in frames if f is not None] == [100.0, 100.5, 101.0, 101.5, 102.0]
    assert all(f is not None and f.image.shape == (48, 64, 3) for f in frames)
    means = [float(f.image.mean()) for f in frames if f is not None]
    assert means == sorted(means) and means[-1] - means[0] > 100
    assert camera.read() is None
    assert (camera.state, camera.problem) == (CameraState.CLOSED, "end of file")
    assert camera.read() is None


def test_a_looping_video_starts_again_and_keeps_numbering(video):
    camera = OpenCvCamera(str(video), loop=True)
    frames = [camera.read() for _ in range(12)]
    assert [f.index for f in frames if f is not None] == list(range(12))
    assert camera.state is CameraState.OPEN
    first, sixth = frames[0], frames[5]
    assert first is not None and sixth is not None
    assert np.array_equal(first.image, sixth.image)
    camera.close()
    assert (camera.state, camera.problem) == (CameraState.CLOSED, "closed")
    assert camera.read() is None
    camera.close()


def test_a_nonexistent_device_is_lost_with_a_problem_and_never_raises():
    camera = OpenCvCamera(97)
    assert camera.state is CameraState.LOST
    assert camera.problem == (
        "camera 97 could not be opened: no such device or stream, or it is in use")
    assert camera.read() is None
    assert camera.fps == DEFAULT_FPS
    camera.close()
    assert camera.state is CameraState.LOST  # LOST stays LOST: closing does not hide why


def test_a_missing_video_file_is_lost(tmp_path):
    camera = OpenCvCamera(str(tmp_path / "none.avi"), name="bench video")
    assert (camera.state, camera.problem) == (
        CameraState.LOST, "bench video could not be opened: no such file, or it is in use")
    assert camera.read() is None


class FakeDevice:
    """A capture that delivers some frames and then fails the way an unplugged USB camera does."""

    def __init__(self, source, frames: int = 2, error: bool = False) -> None:
        self.source, self.left, self.error, self.released = source, frames, error, False

    def isOpened(self) -> bool:  # noqa: N802 - OpenCV's name
        return True

    def get(self, prop: int) -> float:
        return 0.0

    def set(self, prop: int, value: float) -> bool:
        return False

    def read(self):
        if self.left > 0:
            self.left -= 1
            return True, solid(self.left * 50)
        if self.error:
            raise cv2.error("select() timeout")
        return False, None

    def release(self) -> None:
        self.released = True


@pytest.mark.parametrize("error", [False, True], ids=["failed-grab", "cv2-error"])
def test_a_working_device_that_stops_delivering_is_lost(monkeypatch, error):
    devices: list[FakeDevice] = []

    def open_device(source):
        devices.append(FakeDevice(source, error=error))
        return devices[-1]

    monkeypatch.setattr(camera_module.cv2, "VideoCapture", open_device)
    camera = OpenCvCamera(0)
    assert camera.fps == DEFAULT_FPS  # the device reported none
    assert [camera.read() is not None for _ in range(2)] == [True, True]
    assert camera.read() is None
    assert camera.state is CameraState.LOST
    assert camera.problem == "camera 0 stopped delivering frames: check that it is plugged in"
    assert devices[0].released


def test_a_device_that_opens_but_never_delivers_is_lost(monkeypatch):
    monkeypatch.setattr(camera_module.cv2, "VideoCapture", lambda s: FakeDevice(s, frames=0))
    camera = OpenCvCamera(1)
    assert camera.read() is None
    assert (camera.state, camera.problem) == (
        CameraState.LOST, "camera 1 opened but delivered no frame")


def test_grey_and_bgra_device_frames_become_bgr(monkeypatch):
    class GreyDevice(FakeDevice):
        def read(self):
            return True, np.full((4, 6), 9, np.uint8)

    monkeypatch.setattr(camera_module.cv2, "VideoCapture", GreyDevice)
    frame = OpenCvCamera(0).read()
    assert frame is not None and frame.image.shape == (4, 6, 3)


# ---------------------------------------------------------------- FolderCamera


@pytest.fixture
def stills(tmp_path):
    folder = tmp_path / "stills"
    folder.mkdir()
    cv2.imwrite(str(folder / "b.png"), solid(20))
    cv2.imwrite(str(folder / "a.png"), solid(10))
    cv2.imwrite(str(folder / "d.jpg"), solid(200))
    (folder / "c.png").write_bytes(b"not a png at all")
    (folder / "notes.txt").write_text("ignored: not an image type")
    return folder


def test_a_folder_shows_its_images_in_name_order_and_skips_an_unreadable_one(stills):
    camera = FolderCamera(stills, fps=4, loop=False, clock=ticking_clock())
    assert (camera.name, camera.fps, camera.state) == (f"folder {stills}", 4.0, CameraState.OPEN)
    frames = [camera.read() for _ in range(3)]
    assert [round(float(f.image.mean())) for f in frames if f is not None] == [10, 20, 200]
    assert [f.index for f in frames if f is not None] == [0, 1, 2]
    assert camera.warnings == ("skipped c.png: is not a readable image",)
    assert camera.read() is None
    assert (camera.state, camera.problem) == (CameraState.CLOSED, "end of folder")


def test_a_looping_folder_starts_again_and_warns_once_per_file(stills):
    camera = FolderCamera(stills)
    frames = [camera.read() for _ in range(7)]
    assert [round(float(f.image.mean())) for f in frames if f is not None] == [
        10, 20, 200, 10, 20, 200, 10]
    assert [f.index for f in frames if f is not None] == list(range(7))
    assert camera.warnings == ("skipped c.png: is not a readable image",)
    assert camera.state is CameraState.OPEN
    camera.close()
    assert (camera.state, camera.problem, camera.read()) == (CameraState.CLOSED, "closed", None)


def test_a_looping_folder_picks_up_images_added_meanwhile(stills):
    camera = FolderCamera(stills)
    for _ in range(3):
        camera.read()
    cv2.imwrite(str(stills / "e.png"), solid(99))
    means = [round(float(f.image.mean())) for f in (camera.read() for _ in range(4)) if f]
    assert means == [10, 20, 200, 99]


def test_a_folder_that_disappears_is_lost(stills):
    camera = FolderCamera(stills)
    assert camera.read() is not None
    shutil.rmtree(stills)
    assert camera.read() is None
    assert (camera.state, camera.problem) == (CameraState.LOST, f"folder {stills} disappeared")


def test_a_missing_folder_is_lost_from_the_start(tmp_path):
    camera = FolderCamera(tmp_path / "nowhere")
    assert (camera.state, camera.problem) == (
        CameraState.LOST, f"folder {tmp_path / 'nowhere'} not found")
    assert camera.read() is None


def test_a_folder_without_images_is_closed(tmp_path):
    (tmp_path / "readme.txt").write_text("no pictures here")
    camera = FolderCamera(tmp_path)
    assert (camera.state, camera.problem) == (CameraState.CLOSED, f"no images in {tmp_path}")


def test_a_folder_of_only_unreadable_images_closes_after_one_pass(tmp_path):
    (tmp_path / "x.png").write_bytes(b"")
    (tmp_path / "y.jpg").write_bytes(b"\xff\xd8 truncated")
    camera = FolderCamera(tmp_path)
    assert camera.read() is None
    assert (camera.state, camera.problem) == (
        CameraState.CLOSED, f"no readable images in {tmp_path}")
    assert camera.warnings == ("skipped x.png: is not a readable image",
                               "skipped y.jpg: is not a readable image")


def test_a_folder_refuses_a_zero_frame_rate(tmp_path):
    with pytest.raises(ValueError, match=r"^fps must be greater than zero, got 0$"):
        FolderCamera(tmp_path, fps=0)


# ---------------------------------------------------------------- SimulatedCamera


def gtins(frame: Frame | None) -> set[str]:
    assert frame is not None
    found = zxingcpp.read_barcodes(frame.image, text_mode=zxingcpp.TextMode.Plain)
    return {b.text[2:16] if b.symbology_identifier == "]d2" else "0" + b.text for b in found}


def test_a_simulated_camera_shows_what_is_put_in_front_of_it():
    camera = SimulatedCamera(Scene(), fps=12, clock=ticking_clock())
    assert (camera.name, camera.fps, camera.size, camera.state) == (
        "simulated camera", 12.0, (1280, 720), CameraState.OPEN)
    assert gtins(camera.read()) == set()
    camera.show(Scene(labels=(VIAL,)))
    assert camera.scene == Scene(labels=(VIAL,))
    frame = camera.read()
    assert gtins(frame) == {"00304094888026"}
    assert frame is not None
    assert (frame.index, frame.monotonic, frame.source) == (1, 100.5, "simulated camera")
    assert frame.image.shape == (720, 1280, 3)


def test_an_unplugged_simulated_camera_is_lost_and_stays_lost():
    camera = SimulatedCamera(Scene(), size=(64, 48))
    assert camera.read() is not None
    camera.unplug()
    assert camera.read() is None
    assert (camera.state, camera.problem) == (
        CameraState.LOST, "simulated camera was unplugged")
    camera.show(Scene(labels=(VIAL,)))
    camera.close()
    assert (camera.state, camera.read()) == (CameraState.LOST, None)


def test_a_closed_simulated_camera_delivers_nothing():
    camera = SimulatedCamera(Scene(), size=(64, 48))
    camera.close()
    assert (camera.state, camera.problem, camera.read()) == (CameraState.CLOSED, "closed", None)


def test_the_same_seed_repeats_the_same_frames():
    first = SimulatedCamera(Scene(labels=(VIAL,)), size=(320, 180), seed=4)
    second = SimulatedCamera(Scene(labels=(VIAL,)), size=(320, 180), seed=4)
    for _ in range(3):
        a, b = first.read(), second.read()
        assert a is not None and b is not None and np.array_equal(a.image, b.image)


def test_show_and_unplug_may_come_from_another_thread_while_frames_are_read():
    camera = SimulatedCamera(Scene(), size=(160, 90))
    scenes = [Scene(), Scene(labels=(VIAL,)), Scene(labels=(VIAL,), blur=2.0)]
    done = threading.Event()

    def swap() -> None:
        for scene in itertools.islice(itertools.cycle(scenes), 60):
            camera.show(scene)
        camera.unplug()
        done.set()

    worker = threading.Thread(target=swap)
    worker.start()
    indexes = []
    while (frame := camera.read()) is not None:
        indexes.append(frame.index)
    worker.join(timeout=10)
    assert done.is_set() and not worker.is_alive()
    assert indexes == list(range(len(indexes)))
    assert camera.state is CameraState.LOST


def test_a_simulated_camera_refuses_a_zero_frame_rate():
    with pytest.raises(ValueError, match=re.escape("fps must be greater than zero, got -1")):
        SimulatedCamera(Scene(), fps=-1)
