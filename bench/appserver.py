"""The application served for real, for benchmarks that go through HTTP.

`app_server()` starts granian, as production runs it (docs/operations.md), in a subprocess
on a free local port, against the benchmark database, with production settings (DEBUG off,
a random secret, no demo users, no https redirect since there is no TLS proxy in front; see
bench/server_settings.py), and stops it afterwards. `Browser` is one signed-in user's
client: its own keep-alive connection and cookies (session and CSRF), on a plain socket.

    with app_server(ctx.database_url, workers=4, threads=2) as server:
        browser = Browser(server)
        browser.sign_in("cashier", "password")
        page = browser.get("/counter/")
"""

import http.client
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote_plus

ROOT = Path(__file__).resolve().parent.parent
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken"\s+value="([^"]+)"')


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    workers: int
    threads: int


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_environment(database_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="bench.server_settings",
        DATABASE_URL=database_url,
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(64),
        KENT_DEMO_MODE="false",
        KENT_SSL_REDIRECT="false",
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        KENT_LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    return env


@contextmanager
def app_server(
    database_url: str, *, workers: int = 4, threads: int = 2, start_timeout: float = 90
) -> Iterator[Server]:
    """granian (`workers` processes of `threads` threads each) serving the app on
    127.0.0.1 until the block ends."""
    port = _free_port()
    command = [
        str(Path(sys.executable).with_name("granian")),
        "--interface",
        "wsgi",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--blocking-threads",
        str(threads),
        "--no-ws",
        "--log-level",
        "warning",
        "kent_cs.wsgi:application",
    ]
    with tempfile.TemporaryFile(mode="w+") as log:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=server_environment(database_url),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        server = Server("127.0.0.1", port, workers, threads)
        try:
            _wait_until_serving(server, process, log, start_timeout)
            yield server
        finally:
            _stop(process)

        if process.returncode not in (0, -signal.SIGTERM):
            log.seek(0)
            print(log.read()[-4000:], file=sys.stderr)


def _wait_until_serving(server: Server, process, log, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"granian exited ({process.returncode}):\n{log.read()[-4000:]}")
        try:
            connection = http.client.HTTPConnection(server.host, server.port, timeout=5)
            connection.request("GET", "/login/")
            if connection.getresponse().status == 200:
                connection.close()
                return
            connection.close()
        except OSError:
            pass
        time.sleep(0.25)
    log.seek(0)
    raise RuntimeError(f"granian did not answer in {timeout:.0f} s:\n{log.read()[-4000:]}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)  # the main process stops its workers gracefully
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, list[str]]  # lower-cased names
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    @property
    def location(self) -> str:
        return self.header("location")

    def header(self, name: str) -> str:
        values = self.headers.get(name)
        return values[0] if values else ""


class _ServerClosed(Exception):
    """The server closed the keep-alive connection before answering."""


class Browser:
    """One user's HTTP client: a keep-alive connection and a cookie jar.

    HTTP/1.1 on a plain socket: the client shares the machine with the server it loads,
    as pgbench's client does, so it spends as little as it can (the standard library's
    http.client parses every response's headers with the email package).
    """

    def __init__(self, server: Server) -> None:
        self.server = server
        self.cookies: dict[str, str] = {}
        self._socket: socket.socket | None = None
        self._reader: BinaryIO | None = None
        self._host = f"Host: {server.host}:{server.port}\r\n".encode()

    def close(self) -> None:
        if self._socket is not None:
            if self._reader is not None:
                self._reader.close()
            self._socket.close()
            self._socket = self._reader = None

    def request(self, method: str, path: str, form: list[tuple[str, str]] | None = None):
        head = [f"{method} {path} HTTP/1.1\r\n".encode(), self._host]
        if self.cookies:
            cookies = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
            head.append(f"Cookie: {cookies}\r\n".encode())
        body = b""
        if form is not None:
            body = form_body(form)
            head.append(b"Content-Type: application/x-www-form-urlencoded\r\n")
        if body or method == "POST":
            head.append(f"Content-Length: {len(body)}\r\n".encode())
        message = b"".join(head) + b"\r\n" + body
        for attempt in range(2):
            if self._socket is None:
                self._socket = socket.create_connection(
                    (self.server.host, self.server.port), timeout=60
                )
                self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self._reader = self._socket.makefile("rb")
            try:
                self._socket.sendall(message)
                response = self._read_response(method)
            except (_ServerClosed, ConnectionError):
                # The server closed an idle keep-alive connection: open a new one. Safe
                # to resend: the counter's posts carry an idempotency key.
                self.close()
                if attempt:
                    raise
                continue
            if response.header("connection").lower() == "close":
                self.close()
            self._keep_cookies(response.headers.get("set-cookie", ()))
            return response
        raise AssertionError("unreachable")

    def _read_response(self, method: str) -> Response:
        reader = self._reader
        assert reader is not None
        status_line = reader.readline()
        if not status_line:
            raise _ServerClosed
        status = int(status_line.split(None, 2)[1])
        headers: dict[str, list[str]] = {}
        while (line := reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers.setdefault(name.strip().lower(), []).append(value.strip())
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            body = b""
        elif "chunked" in ",".join(headers.get("transfer-encoding", ())).lower():
            chunks = []
            while size := int(reader.readline().split(b";")[0], 16):
                chunks.append(reader.read(size))
                reader.readline()
            while reader.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            body = b"".join(chunks)
        elif "content-length" in headers:
            body = reader.read(int(headers["content-length"][0]))
        else:
            body = reader.read()
            headers["connection"] = ["close"]
        return Response(status, headers, body)

    def _keep_cookies(self, headers) -> None:
        for header in headers:
            jar: SimpleCookie = SimpleCookie()
            jar.load(header)
            for name, morsel in jar.items():
                if morsel.value == "" or morsel["max-age"] == "0":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def post(self, path: str, form: list[tuple[str, str]]) -> Response:
        return self.request("POST", path, form)

    def sign_in(self, username: str, password: str) -> None:
        page = self.get("/login/")
        response = self.post(
            "/login/",
            [
                ("csrfmiddlewaretoken", csrf_token(page)),
                ("username", username),
                ("password", password),
                ("next", ""),
            ],
        )
        if response.status != 302 or "sessionid" not in self.cookies:
            raise RuntimeError(f"Signing in as {username} failed ({response.status}).")


# Text that application/x-www-form-urlencoded keeps as it is, but for spaces ("+").
_PLAIN = re.compile(r"[A-Za-z0-9._* -]*")


def form_body(form: list[tuple[str, str]]) -> bytes:
    """The form as a browser encodes it (as urlencode does); plain text (most of a
    receipt's: names, codes, amounts, blanks) is not run through quote_plus, which cost
    the client more than the rest of a post."""
    return "&".join(f"{_encoded(name)}={_encoded(value)}" for name, value in form).encode()


def _encoded(text: str) -> str:
    return text.replace(" ", "+") if _PLAIN.fullmatch(text) else quote_plus(text)


def csrf_token(page: Response) -> str:
    """The form token of a page (Django's masked CSRF token in its hidden input)."""
    match = CSRF_INPUT.search(page.text)
    if match is None:
        raise RuntimeError(f"No CSRF token in the page (status {page.status}).")
    return match.group(1)
