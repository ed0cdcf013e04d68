r"""MLLP: HL7 v2 over TCP, each message framed as ``0x0B`` message ``0x1C 0x0D``.

:class:`MllpDecoder` is the sans-I/O framing: bytes in, whole messages out, whatever the
packets (a message split across several, several in one). :class:`MllpServer` serves a
handler (message text → reply text) on a port, one thread per connection, and answers
each message in the order received. :func:`mllp_send` is the matching small client.

>>> decoder = MllpDecoder()
>>> decoder.feed(b"\x0bMSH|one\x1c\r\x0bMSH|t")
[b'MSH|one']
>>> decoder.feed(b"wo\x1c\r")
[b'MSH|two']
"""

from __future__ import annotations

import contextlib
import logging
import socket
import socketserver
import threading
from collections.abc import Callable

START = b"\x0b"
END = b"\x1c\x0d"
ENCODING = "utf-8"
MAX_MESSAGE = 4 * 1024 * 1024

log = logging.getLogger(__name__)

Handler = Callable[[str], str]


class FramingError(Exception):
    """The byte stream broke MLLP framing (e.g. a message far too long)."""


def frame(message: str | bytes) -> bytes:
    """One message in its MLLP frame."""
    data = message.encode(ENCODING) if isinstance(message, str) else message
    return START + data + END


def decode_text(data: bytes) -> str:
    """Message bytes as text: UTF-8, or Latin-1 for a sender that is not."""
    try:
        return data.decode(ENCODING)
    except UnicodeDecodeError:
        return data.decode("latin-1")


class MllpDecoder:
    """Turns a byte stream into the messages framed in it; bytes outside a frame are dropped."""

    def __init__(self, max_message: int = MAX_MESSAGE) -> None:
        self._buffer = bytearray()
        self._max = max_message

    def feed(self, data: bytes) -> list[bytes]:
        """The messages completed by ``data``, in order."""
        self._buffer += data
        messages: list[bytes] = []
        while True:
            start = self._buffer.find(START)
            if start < 0:
                self._buffer.clear()  # nothing framed: noise between messages
                return messages
            if start:
                del self._buffer[:start]
            end = self._buffer.find(END, 1)
            if end < 0:
                if len(self._buffer) > self._max:
                    self._buffer.clear()
                    raise FramingError(f"a message longer than {self._max} bytes has no end")
                return messages
            messages.append(bytes(self._buffer[1:end]))
            del self._buffer[: end + len(END)]

    @property
    def pending(self) -> int:
        """Bytes of an incomplete message held."""
        return len(self._buffer)


class _Connection(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        sock: socket.socket = self.request
        self.server.track(sock, add=True)
        peer = "%s:%s" % self.client_address[:2]  # noqa: UP031 - address tuple
        decoder = MllpDecoder()
        try:
            while True:
                try:
                    data = sock.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                try:
                    messages = decoder.feed(data)
                except FramingError as error:
                    log.warning("MLLP %s: %s; closing", peer, error)
                    return
                for message in messages:
                    reply = self.server.answer(decode_text(message), peer)
                    sock.sendall(frame(reply))
        except OSError as error:
            log.info("MLLP %s: connection lost: %s", peer, error)
        finally:
            self.server.track(sock, add=False)


class _Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = False
    block_on_close = True

    def __init__(self, address: tuple[str, int], handler: Handler,
                 on_error: Callable[[str, Exception], str]) -> None:
        super().__init__(address, _Connection)
        self._handler = handler
        self._on_error = on_error
        self._open: set[socket.socket] = set()
        self._guard = threading.Lock()

    def answer(self, text: str, peer: str) -> str:
        try:
            return self._handler(text)
        except Exception as error:  # one bad message must never stop the listener
            log.exception("MLLP %s: the handler failed", peer)
            return self._on_error(text, error)

    def track(self, sock: socket.socket, *, add: bool) -> None:
        with self._guard:
            if add:
                self._open.add(sock)
            else:
                self._open.discard(sock)

    def close_connections(self) -> None:
        with self._guard:
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


def _internal_error(text: str, error: Exception) -> str:
    import datetime as dt  # noqa: PLC0415 - only when a handler has failed

    from station.core.order_messages import IntakeError  # noqa: PLC0415
    from station.intake.hl7v2 import AckCode, build_ack, message_id_of  # noqa: PLC0415

    failure = IntakeError(f"the station could not process the message: {error}",
                          message_id=message_id_of(text))
    now = dt.datetime.now(dt.UTC)
    return build_ack(text, AckCode.ERROR, control_id=f"ERR{now:%Y%m%d%H%M%S%f}", now=now,
                     error=failure)


class MllpServer:
    """An MLLP listener on ``host:port`` (port 0: any free port, see :attr:`port`)."""

    def __init__(self, host: str, port: int, handler: Handler,
                 on_error: Callable[[str, Exception], str] = _internal_error) -> None:
        self._server = _Server((host, port), handler, on_error)
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        """The address listened on."""
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        """The port listened on."""
        return int(self._server.server_address[1])

    def start(self) -> MllpServer:
        """Serve in a background thread."""
        if self._thread is not None:
            raise RuntimeError("the MLLP server is running already")
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name=f"mllp-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening, close every connection and wait for their threads."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.close_connections()
        self._server.server_close()

    def __enter__(self) -> MllpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def mllp_send(host: str, port: int, message: str, timeout: float = 10.0) -> str:
    """Send one message and return the reply (the ACK) as text."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(frame(message))
        return mllp_receive(sock, 1)[0]


def mllp_receive(sock: socket.socket, count: int) -> list[str]:
    """Read ``count`` framed messages from ``sock``."""
    decoder = MllpDecoder()
    replies: list[str] = []
    while len(replies) < count:
        data = sock.recv(65536)
        if not data:
            raise ConnectionError(
                f"the peer closed the connection after {len(replies)} of {count} replies")
        replies.extend(decode_text(m) for m in decoder.feed(data))
    return replies
