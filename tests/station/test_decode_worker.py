from __future__ import annotations

import threading

from station.devices.decode_worker import LatestFrameDecoder


def test_frames_arriving_while_busy_are_skipped_and_the_newest_is_decoded():
    release = threading.Event()
    started = threading.Event()
    results: list[int] = []
    done = threading.Event()

    def decode(frame: int) -> int:
        started.set()
        release.wait(5)
        return frame * 10

    def on_result(frame: int, result: int, seconds: float) -> None:
        results.append(result)
        if frame == 99:
            done.set()

    worker = LatestFrameDecoder(decode, on_result)
    worker.start()
    worker.submit(0)
    assert started.wait(5)
    for frame in range(1, 100):  # all arrive while frame 0 is being decoded
        worker.submit(frame)
    release.set()
    assert done.wait(5)
    worker.stop()
    assert results == [0, 990], "only the first and the newest frame were decoded"
    stats = worker.stats
    assert (stats.submitted, stats.decoded, stats.skipped) == (100, 2, 98)


def test_a_failing_frame_is_reported_and_the_worker_goes_on():
    errors: list[str] = []
    results: list[int] = []
    second = threading.Event()

    def decode(frame: int) -> int:
        if frame == 1:
            raise ValueError("corrupt frame")
        return frame

    def on_result(frame: int, result: int, seconds: float) -> None:
        results.append(result)
        second.set()

    worker = LatestFrameDecoder(decode, on_result,
                                on_error=lambda frame, error: errors.append(str(error)))
    worker.start()
    worker.submit(1)
    worker.submit(2)
    assert second.wait(5)
    worker.stop()
    assert results == [2]
    assert worker.stats.failed + worker.stats.skipped == 1


def test_stop_ends_the_thread():
    worker = LatestFrameDecoder(lambda frame: frame, lambda *args: None, name="t-decoder")
    worker.start()
    worker.stop()
    assert not [t for t in threading.enumerate() if t.name == "t-decoder"]
