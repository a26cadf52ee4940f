"""The application served for real, for benchmarks that go through HTTP.

`app_server()` starts gunicorn in a subprocess on a free local port, against the benchmark
database, with production settings (DEBUG off, a random secret, no demo users, no https
redirect since there is no TLS proxy in front; see bench/server_settings.py), and stops it
afterwards. `Browser` is one signed-in user's client: its own keep-alive connection and
cookies (session and CSRF), standard library only.

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
from urllib.parse import urlencode

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
    """gunicorn (gthread workers) serving the app on 127.0.0.1 until the block ends."""
    port = _free_port()
    gunicorn = Path(sys.executable).with_name("gunicorn")
    command = [
        str(gunicorn),
        "kent_cs.wsgi",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--worker-class",
        "gthread",
        "--timeout",
        "60",
        "--log-level",
        "warning",
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
            raise RuntimeError(f"gunicorn exited ({process.returncode}):\n{log.read()[-4000:]}")
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
    raise RuntimeError(f"gunicorn did not answer in {timeout:.0f} s:\n{log.read()[-4000:]}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)  # the master stops its workers gracefully
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    @property
    def location(self) -> str:
        return self.headers.get("Location", "")


class Browser:
    """One user's HTTP client: a keep-alive connection and a cookie jar."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.cookies: dict[str, str] = {}
        self._connection: http.client.HTTPConnection | None = None

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def request(self, method: str, path: str, form: list[tuple[str, str]] | None = None):
        headers = {"Host": f"{self.server.host}:{self.server.port}"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in range(2):
            if self._connection is None:
                self._connection = http.client.HTTPConnection(
                    self.server.host, self.server.port, timeout=60
                )
            try:
                self._connection.request(method, path, body, headers)
                raw = self._connection.getresponse()
                data = raw.read()
            except (http.client.RemoteDisconnected, ConnectionError):
                # The server closed an idle keep-alive connection: open a new one. Safe
                # to resend: the counter's posts carry an idempotency key.
                self.close()
                if attempt:
                    raise
                continue
            if raw.getheader("Connection", "").lower() == "close":
                self.close()
            self._keep_cookies(raw.headers)
            return Response(raw.status, raw.headers, data)
        raise AssertionError("unreachable")

    def _keep_cookies(self, headers: http.client.HTTPMessage) -> None:
        for header in headers.get_all("Set-Cookie") or []:
            jar = SimpleCookie()
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


def csrf_token(page: Response) -> str:
    """The form token of a page (Django's masked CSRF token in its hidden input)."""
    match = CSRF_INPUT.search(page.text)
    if match is None:
        raise RuntimeError(f"No CSRF token in the page (status {page.status}).")
    return match.group(1)
