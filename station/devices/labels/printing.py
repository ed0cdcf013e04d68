"""Send ZPL to a printer: a network printer's raw port, a CUPS queue, or a file.

Destinations are written as URLs: ``tcp://HOST[:PORT]`` (port 9100 by default, the raw
"JetDirect" port Zebra printers listen on), ``cups://QUEUE`` (``lp -d QUEUE -o raw``) or
``file://PATH``. Every failure is a :class:`PrintError` whose message names the destination.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from station.core.errors import StationError

__all__ = ["RAW_PORT", "Destination", "PrintError", "parse_destination", "send"]

RAW_PORT = 9100
DEFAULT_TIMEOUT = 10.0


class PrintError(StationError):
    """The label could not be handed to the printer."""


@dataclass(frozen=True)
class Destination:
    """Where labels go: ``kind`` is tcp, cups or file."""

    kind: str
    target: str  # host, queue name or path
    port: int = RAW_PORT

    def __str__(self) -> str:
        if self.kind == "tcp":
            return f"tcp://{self.target}:{self.port}"
        return f"{self.kind}://{self.target}"


def parse_destination(text: str) -> Destination:
    """Read ``tcp://HOST[:PORT]``, ``cups://QUEUE`` or ``file://PATH``."""
    scheme, sep, rest = text.partition("://")
    if not sep or not rest:
        raise PrintError(
            f"printer {text!r} is not tcp://HOST:9100, cups://QUEUE or file://PATH"
        )
    scheme = scheme.lower()
    if scheme == "file":
        return Destination("file", rest)
    if scheme == "cups":
        queue = rest.strip("/")
        if not queue or "/" in queue or queue.startswith("-"):
            raise PrintError(f"printer {text!r}: {queue!r} is not a CUPS queue name")
        return Destination("cups", queue)
    if scheme == "tcp":
        parts = urlsplit(f"//{rest}")
        try:
            port = parts.port or RAW_PORT
        except ValueError:
            raise PrintError(
                f"printer {text!r}: the port is not a number from 1 to 65535"
            ) from None
        if not parts.hostname:
            raise PrintError(f"printer {text!r} names no host")
        return Destination("tcp", parts.hostname, port)
    raise PrintError(f"printer {text!r}: unknown scheme {scheme!r}; use tcp, cups or file")


def send(zpl: str, destination: Destination, *, timeout: float = DEFAULT_TIMEOUT) -> None:
    """Deliver ``zpl`` (UTF-8) to ``destination``; raise PrintError on any failure."""
    data = zpl.encode("utf-8")
    if destination.kind == "tcp":
        _send_tcp(data, destination, timeout)
    elif destination.kind == "cups":
        _send_cups(data, destination, timeout)
    elif destination.kind == "file":
        _send_file(data, destination)
    else:
        raise PrintError(f"unknown printer kind {destination.kind!r}")


def _send_tcp(data: bytes, destination: Destination, timeout: float) -> None:
    try:
        with socket.create_connection(
            (destination.target, destination.port), timeout=timeout
        ) as connection:
            connection.sendall(data)
            connection.shutdown(socket.SHUT_WR)
    except TimeoutError:
        raise PrintError(
            f"printer {destination} did not answer within {timeout:g} s; is it on and reachable?"
        ) from None
    except OSError as error:
        reason = error.strerror or str(error)
        raise PrintError(f"cannot send the label to {destination}: {reason}") from None


def _send_cups(data: bytes, destination: Destination, timeout: float) -> None:
    lp = shutil.which("lp")
    if lp is None:
        raise PrintError(
            f"cannot print to {destination}: the CUPS 'lp' command is not installed "
            "(install cups-client, or print to tcp://HOST:9100)"
        )
    try:
        result = subprocess.run(
            [lp, "-d", destination.target, "-o", "raw"],
            input=data,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise PrintError(f"lp did not finish within {timeout:g} s for {destination}") from None
    except OSError as error:
        raise PrintError(f"cannot run lp for {destination}: {error.strerror}") from None
    if result.returncode != 0:
        message = result.stderr.decode("utf-8", "replace").strip().splitlines()
        detail = message[-1] if message else f"exit status {result.returncode}"
        raise PrintError(f"lp refused the label for {destination}: {detail}")


def _send_file(data: bytes, destination: Destination) -> None:
    path = Path(destination.target)
    try:
        path.write_bytes(data)
    except OSError as error:
        raise PrintError(f"cannot write the label to {path}: {error.strerror}") from None
