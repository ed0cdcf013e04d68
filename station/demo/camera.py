"""The demo's camera over a simulated hood: each ``read()`` renders the scene in front of it.

It is a :class:`~station.devices.camera.CameraSource` like a real one, so everything that reads
a camera reads it the same way; only ``show`` and ``unplug`` may be called from other threads.

>>> from station.demo.camera_scene import Scene
>>> camera = SimulatedCamera(Scene(), size=(320, 180))
>>> frame = camera.read()
>>> frame.index, frame.image.shape, camera.state.name
(0, (180, 320, 3), 'OPEN')
>>> camera.unplug()
>>> camera.read() is None, camera.state.name, camera.problem
(True, 'LOST', 'simulated camera was unplugged')
"""

from __future__ import annotations

import threading
import time

import numpy as np

from station.demo.camera_scene import Scene, render
from station.devices.camera import CameraState, Clock, Frame, SourceStatus


class SimulatedCamera:
    """A camera over a simulated hood: each ``read()`` renders the scene in front of it.

    ``show`` changes the scene and ``unplug`` makes the camera LOST; both may be called from
    any thread. Noise is drawn from a generator seeded with ``seed``, so a run is repeatable.
    """

    def __init__(
        self,
        scene: Scene,
        fps: float = 15.0,
        size: tuple[int, int] = (1280, 720),
        seed: int = 0,
        *,
        name: str = "simulated camera",
        clock: Clock = time.monotonic,
    ) -> None:
        if fps <= 0:
            raise ValueError(f"fps must be greater than zero, got {fps}")
        self._scene = scene
        self._fps = float(fps)
        self._size = size
        self._rng = np.random.default_rng(seed)
        self._clock = clock
        self._status = SourceStatus(name)
        self._lock = threading.Lock()
        self._next_index = 0

    @property
    def name(self) -> str:
        """The camera's name, ``simulated camera`` by default."""
        return self._status.name

    @property
    def state(self) -> CameraState:
        """OPEN, LOST (unplugged) or CLOSED."""
        with self._lock:
            return self._status.state

    @property
    def problem(self) -> str:
        """Why the camera is LOST or CLOSED."""
        with self._lock:
            return self._status.problem

    @property
    def fps(self) -> float:
        """The nominal frame rate."""
        return self._fps

    @property
    def size(self) -> tuple[int, int]:
        """Frame width and height."""
        return self._size

    @property
    def scene(self) -> Scene:
        """What is in front of the camera now."""
        with self._lock:
            return self._scene

    def show(self, scene: Scene) -> None:
        """Put another scene in front of the camera; the next frame shows it."""
        with self._lock:
            self._scene = scene

    def unplug(self) -> None:
        """Pull the cable: the camera becomes LOST."""
        with self._lock:
            self._status.end(CameraState.LOST, f"{self.name} was unplugged")

    def read(self) -> Frame | None:
        """Render the current scene."""
        with self._lock:
            if self._status.state is not CameraState.OPEN:
                return None
            image = render(self._scene, self._size, self._rng)
            frame = Frame(image, self._next_index, self._clock(), self.name)
            self._next_index += 1
            return frame

    def close(self) -> None:
        """Switch the camera off."""
        with self._lock:
            self._status.end(CameraState.CLOSED, "closed")
