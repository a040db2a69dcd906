"""A TCP proxy a test can cut: it stands between a process and its database server, as a
load balancer or a flaky network would, so a test can sever every open connection and refuse
new ones, then let traffic through again."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator


class TcpProxy:
    """Forwards ``127.0.0.1:<port>`` to ``target``; :meth:`cut` severs and refuses, :meth:`heal`
    lets connections through again. Use as a context manager so its threads end."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port: int = self._listener.getsockname()[1]
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._is_cut = False
        self._is_closed = False
        self._accepter = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> TcpProxy:
        self._accepter.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._is_closed = True
        self.cut()
        self._accepter.join(timeout=5)
        self._listener.close()

    @property
    def is_cut(self) -> bool:
        """True while connections are refused."""
        return self._is_cut

    def cut(self) -> None:
        """Sever every open connection (a reset, as a dropped network path gives) and refuse
        new ones until :meth:`heal`."""
        self._is_cut = True
        with self._lock:
            sockets, self._open = list(self._open), set()
        for sock in sockets:
            with contextlib.suppress(OSError):
                # SO_LINGER 0: close with RST, so the peer sees a broken connection at once.
                sock.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                )
                # Wake the pump blocked in recv() on it: until that call returns, close() only
                # drops this descriptor, and the connection stays up (Linux closes a socket when
                # its last user lets go). SHUT_RD sends nothing, so the peer still sees a reset.
                sock.shutdown(socket.SHUT_RD)
            with contextlib.suppress(OSError):
                sock.close()

    def heal(self) -> None:
        """Let connections through again."""
        self._is_cut = False

    def url_for(self, url: str) -> str:
        """``url`` (a SQLAlchemy URL to the target) pointed at the proxy instead."""
        from sqlalchemy.engine import make_url

        return (
            make_url(url)
            .set(host="127.0.0.1", port=self.port)
            .render_as_string(hide_password=False)
        )

    def _accept(self) -> None:
        while not self._is_closed:
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self._is_cut:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self._target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._open.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # also ends the other pump's recv() (see cut)
            with contextlib.suppress(OSError):
                sock.close()
            with self._lock:
                self._open.discard(sock)


@contextlib.contextmanager
def proxy_to(url: str) -> Iterator[tuple[TcpProxy, str]]:
    """A running proxy to the server of SQLAlchemy ``url``, and ``url`` through it."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    with TcpProxy(parsed.host or "127.0.0.1", parsed.port or 5432) as proxy:
        yield proxy, proxy.url_for(url)
