"""Camera sources behind one small interface: a device or video, or a folder of stills.

Every source hands out :class:`Frame` objects from ``read()`` and never raises because a camera
went away: ``read()`` returns None from then on, ``state`` says whether the source was LOST (it
vanished: unplugged, a stream that broke, a folder that was removed) or CLOSED (it ended on
purpose: end of file, ``close()``), and ``problem`` says why in words a technician can act on.
Reconnecting is the caller's decision.

File and folder sources (and the demo's simulated one, :mod:`station.demo.camera`) return the
next frame at once; the caller paces them at ``fps``. A device paces itself (``read()`` waits
for the next frame). A source is read by one owner thread.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import cv2
import numpy as np
import numpy.typing as npt

_log = logging.getLogger(__name__)

Clock = Callable[[], float]

# The frame rate assumed when a device or file does not report one.
DEFAULT_FPS = 30.0
# Still-image types a FolderCamera shows, by file suffix (compared in lower case).
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"})


class CameraState(Enum):
    """Whether a source still delivers frames."""

    OPEN = "open"
    LOST = "lost"  # the camera disappeared: unplugged, a stream that broke, a folder removed
    CLOSED = "closed"  # the source ended: closed, or a file or folder came to its end


@dataclass(frozen=True, eq=False)
class Frame:
    """One image from a source: BGR uint8, numbered in increasing order per source.

    The image is made read-only, so one frame can be shown, assessed and stored from
    different threads; copy it to draw on it.
    """

    image: npt.NDArray[np.uint8]
    index: int
    monotonic: float
    source: str

    def __post_init__(self) -> None:
        image = self.image
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 or image.size == 0:
            raise ValueError(
                f"a frame is a BGR uint8 image (height, width, 3), got {image.dtype} "
                f"{image.shape}"
            )
        image.flags.writeable = False

    @property
    def width(self) -> int:
        """Width in pixels."""
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        """Height in pixels."""
        return int(self.image.shape[0])


@runtime_checkable
class CameraSource(Protocol):
    """What the station needs from a camera."""

    @property
    def name(self) -> str:
        """Names the camera in frames, logs and messages."""
        ...

    @property
    def state(self) -> CameraState:
        """OPEN while frames come; LOST or CLOSED after, for good."""
        ...

    @property
    def problem(self) -> str:
        """Why the source is LOST or CLOSED, empty while it is OPEN."""
        ...

    @property
    def fps(self) -> float:
        """The nominal frame rate."""
        ...

    def read(self) -> Frame | None:
        """The next frame, or None once the source is LOST or CLOSED; never raises for that."""
        ...

    def close(self) -> None:
        """Release the device; the state becomes CLOSED. Closing twice is harmless."""
        ...


class SourceStatus:
    """State and problem text shared by the sources; LOST and CLOSED are final."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.state = CameraState.OPEN
        self.problem = ""

    def end(self, state: CameraState, problem: str) -> None:
        """End the source as LOST or CLOSED with why; the first end stays."""
        if self.state is not CameraState.OPEN:
            return
        self.state = state
        self.problem = problem
        level = logging.WARNING if state is CameraState.LOST else logging.INFO
        _log.log(level, "%s: %s", self.name, problem)


class OpenCvCamera:
    """A camera device index, a video file or a stream URL, read through ``cv2.VideoCapture``.

    A device or stream that fails to deliver a frame is LOST; a video file that ends is
    CLOSED ("end of file"), or starts again with ``loop=True``.
    """

    def __init__(
        self,
        source: int | str,
        *,
        loop: bool = False,
        name: str | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        self._source = source
        self._status = SourceStatus(
            name or (f"camera {source}" if isinstance(source, int) else source))
        self._loop = loop
        self._clock = clock
        self._is_file = isinstance(source, str) and "://" not in source and "!" not in source
        self._next_index = 0
        self._frames_this_pass = 0
        self._fps = DEFAULT_FPS
        self._capture: cv2.VideoCapture | None = None
        try:
            capture = cv2.VideoCapture(source)
        except cv2.error as error:  # some backends raise for a bad source instead of failing
            self._status.end(CameraState.LOST, f"{self.name} could not be opened: {error}")
            return
        self._capture = capture
        if not capture.isOpened():
            what = "file" if self._is_file else "device or stream"
            self._status.end(
                CameraState.LOST,
                f"{self.name} could not be opened: no such {what}, or it is in use",
            )
            self._release()
            return
        reported = float(capture.get(cv2.CAP_PROP_FPS))
        if math.isfinite(reported) and reported > 0:
            self._fps = reported

    @property
    def name(self) -> str:
        """The device index, path or URL, unless named otherwise."""
        return self._status.name

    @property
    def state(self) -> CameraState:
        """OPEN, LOST or CLOSED."""
        return self._status.state

    @property
    def problem(self) -> str:
        """Why the camera is LOST or CLOSED."""
        return self._status.problem

    @property
    def fps(self) -> float:
        """The frame rate the device or file reports (DEFAULT_FPS when it reports none)."""
        return self._fps

    def read(self) -> Frame | None:
        """Grab the next frame."""
        if self._status.state is not CameraState.OPEN or self._capture is None:
            return None
        image = self._grab()
        if image is None and self._is_file and self._loop and self._frames_this_pass > 0:
            self._frames_this_pass = 0
            if self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0):
                image = self._grab()
        if image is None:
            if self._is_file:
                self._status.end(CameraState.CLOSED, "end of file")
            elif self._next_index == 0:
                self._status.end(CameraState.LOST, f"{self.name} opened but delivered no frame")
            else:
                self._status.end(
                    CameraState.LOST,
                    f"{self.name} stopped delivering frames: check that it is plugged in",
                )
            self._release()
            return None
        self._frames_this_pass += 1
        frame = Frame(image, self._next_index, self._clock(), self.name)
        self._next_index += 1
        return frame

    def _grab(self) -> npt.NDArray[np.uint8] | None:
        assert self._capture is not None
        try:
            ok, image = self._capture.read()
        except cv2.error as error:
            _log.warning("%s: read failed: %s", self.name, error)
            return None
        if not ok or image is None or image.size == 0:
            return None
        return _as_bgr8(np.asarray(image))

    def close(self) -> None:
        """Release the capture."""
        self._status.end(CameraState.CLOSED, "closed")
        self._release()

    def _release(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None


def _as_bgr8(image: npt.NDArray[Any]) -> npt.NDArray[np.uint8]:
    """A decoded image as 3-channel BGR uint8, whatever depth and channels it came in."""
    if image.dtype == np.uint16:
        image = (image // 256).astype(np.uint8)
    elif image.dtype != np.uint8:
        image = np.clip(image, 0, 255).astype(np.uint8)
    if image.ndim == 2 or image.shape[2] == 1:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    elif image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return np.ascontiguousarray(image, dtype=np.uint8)


class FolderCamera:
    """Still images from a folder, in name order, as if a camera showed each in turn.

    Files that cannot be decoded are skipped, each with one warning kept in ``warnings``
    (and logged). With ``loop=True`` the folder is listed again at the end, so images added or
    removed meanwhile show up on the next pass; without it the source ends CLOSED. A folder
    that disappears makes the source LOST.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        fps: float = 10.0,
        loop: bool = True,
        *,
        name: str | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        if fps <= 0:
            raise ValueError(f"fps must be greater than zero, got {fps}")
        self._path = Path(path)
        self._status = SourceStatus(name or f"folder {self._path}")
        self._fps = float(fps)
        self._loop = loop
        self._clock = clock
        self._warnings: list[str] = []
        self._warned: set[str] = set()
        self._queue: list[Path] = []
        self._passes = 0
        self._frames_this_pass = 0
        self._next_index = 0
        if not self._path.is_dir():
            self._status.end(CameraState.LOST, f"folder {self._path} not found")
        elif not self._list():
            self._status.end(CameraState.CLOSED, f"no images in {self._path}")

    @property
    def name(self) -> str:
        """``folder <path>`` unless named otherwise."""
        return self._status.name

    @property
    def state(self) -> CameraState:
        """OPEN, LOST or CLOSED."""
        return self._status.state

    @property
    def problem(self) -> str:
        """Why the folder is LOST or CLOSED."""
        return self._status.problem

    @property
    def fps(self) -> float:
        """The rate at which the caller should show the images."""
        return self._fps

    @property
    def warnings(self) -> tuple[str, ...]:
        """One line per file that could not be read, in the order they were met."""
        return tuple(self._warnings)

    def _list(self) -> list[Path]:
        try:
            entries = list(self._path.iterdir())
        except OSError:
            return []
        return sorted(
            (p for p in entries if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()),
            key=lambda p: p.name,
        )

    def read(self) -> Frame | None:
        """The next readable image."""
        while self._status.state is CameraState.OPEN:
            if not self._path.is_dir():
                self._status.end(CameraState.LOST, f"folder {self._path} disappeared")
                return None
            if not self._queue and not self._start_pass():
                return None
            path = self._queue.pop(0)
            image = self._load(path)
            if image is None:
                continue
            self._frames_this_pass += 1
            frame = Frame(image, self._next_index, self._clock(), self.name)
            self._next_index += 1
            return frame
        return None

    def _start_pass(self) -> bool:
        if self._passes > 0:
            if self._frames_this_pass == 0:
                self._status.end(CameraState.CLOSED, f"no readable images in {self._path}")
                return False
            if not self._loop:
                self._status.end(CameraState.CLOSED, "end of folder")
                return False
        self._queue = self._list()
        self._passes += 1
        self._frames_this_pass = 0
        if not self._queue:
            if not self._path.is_dir():
                self._status.end(CameraState.LOST, f"folder {self._path} disappeared")
            else:
                self._status.end(CameraState.CLOSED, f"no images in {self._path}")
            return False
        return True

    def _load(self, path: Path) -> npt.NDArray[np.uint8] | None:
        try:
            data = np.fromfile(path, dtype=np.uint8)
        except FileNotFoundError:
            return None  # removed since the folder was listed: not an error
        except OSError as error:
            self._warn(path, f"cannot be opened ({error.strerror or error})")
            return None
        image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
        if image is None:
            self._warn(path, "is not a readable image")
            return None
        return _as_bgr8(np.asarray(image))

    def _warn(self, path: Path, what: str) -> None:
        if path.name in self._warned:
            return
        self._warned.add(path.name)
        message = f"skipped {path.name}: {what}"
        self._warnings.append(message)
        _log.warning("%s: %s", self.name, message)

    def close(self) -> None:
        """Stop showing images."""
        self._status.end(CameraState.CLOSED, "closed")
        self._queue = []
