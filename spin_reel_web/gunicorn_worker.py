"""The app's gunicorn worker: gunicorn's threaded worker, whose own error responses carry the security headers.

gunicorn answers a request it refuses to parse (a bad request line, a line over ``limit_request_line``, too many
or too large headers: 400, 414, 431) or a crash outside the app (500) itself, without calling the app, so the
app's ``after_request`` never sees them. gunicorn offers no hook for these responses; its documented extension
point is a worker class (``worker_class`` takes the path of a subclass of a gunicorn worker), and every such
response goes through the worker's ``handle_error``, which writes it to the client socket it is given."""

from __future__ import annotations

from gunicorn.workers.gthread import ThreadWorker

from .headers import COMMON_HEADERS, SERVER_ERROR_POLICY

ERROR_HEADERS = "".join(
    f"{name}: {value}\r\n" for name, value in {"Content-Security-Policy": SERVER_ERROR_POLICY, **COMMON_HEADERS}.items()
).encode("latin-1")


class _HeadersAfterStatusLine:
    """The client socket, as seen by gunicorn's error writer: the headers go in after the status line of the
    response written through it; everything else is the socket's own."""

    def __init__(self, sock, headers: bytes):
        self._sock = sock
        self._headers = headers

    def sendall(self, data, *args):
        status_line, crlf, rest = bytes(data).partition(b"\r\n")
        if self._headers and crlf and status_line.startswith(b"HTTP/"):
            data, self._headers = status_line + crlf + self._headers + rest, b""
        return self._sock.sendall(data, *args)

    def __getattr__(self, name: str):
        return getattr(self._sock, name)


class SecureHeadersThreadWorker(ThreadWorker):
    """``gthread`` with the security headers on gunicorn's own error responses."""

    def handle_error(self, req, client, addr, exc):
        super().handle_error(req, _HeadersAfterStatusLine(client, ERROR_HEADERS), addr, exc)
