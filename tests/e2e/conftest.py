"""End-to-end fixtures: a real `sentinella serve` process on free ports and a temp data dir."""

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "data"
BIN = os.environ.get("SENTINELLA_BIN") or str(
    Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/sentinella-target")) / "debug/sentinella"
)


def free_port():
    # One port free for both UDP and TCP (syslog listens on both).
    while True:
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp.bind(("127.0.0.1", 0))
        port = tcp.getsockname()[1]
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            udp.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            tcp.close()
            udp.close()


class Server:
    def __init__(self, data_dir: Path, log_path: Path, extra_args=()):
        self.data_dir = data_dir
        self.log_path = log_path
        self.extra_args = list(extra_args)
        self.http_port = free_port()
        self.es_port = free_port()
        self.syslog_port = free_port()
        self.proc = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def es_url(self):
        return f"http://127.0.0.1:{self.es_port}"

    @property
    def token(self):
        return (self.data_dir / "admin.token").read_text().strip()

    def start(self):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [BIN, "serve", "--data-dir", str(self.data_dir),
             "--http-listen", f"127.0.0.1:{self.http_port}",
             "--es-listen", f"127.0.0.1:{self.es_port}",
             "--syslog-listen", f"127.0.0.1:{self.syslog_port}", *self.extra_args],
            stdout=log, stderr=subprocess.STDOUT,
        )
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-3000:]}")
            try:
                urllib.request.urlopen(self.url + "/health", timeout=1)
                # The syslog listener is up once the API is (same start-up step).
                return self
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def request(self, method, path, body=None, headers=None, token=True):
        headers = dict(headers or {})
        if token:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        req = urllib.request.Request(self.url + path, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=120) as resp:
                raw = resp.read()
                try:
                    return resp.status, json.loads(raw or b"null")
                except ValueError:
                    return resp.status, raw.decode(errors="replace")
        except urllib.error.HTTPError as err:
            raw = err.read()
            try:
                return err.code, json.loads(raw)
            except ValueError:
                return err.code, raw.decode(errors="replace")

    def search(self, q, limit=100, **params):
        query = urllib.parse.urlencode({"q": q, "limit": limit, **params})
        status, body = self.request("GET", f"/api/v1/search?{query}")
        assert status == 200, body
        return body

    def refresh(self):
        status, body = self.request("POST", "/api/v1/store/refresh")
        assert status == 200, body

    def wait_total(self, q, expected, timeout=60):
        """Waits until `q` matches `expected` events (indexing lags writes by up to a second)."""
        deadline = time.time() + timeout
        total = None
        while time.time() < deadline:
            total = self.search(q, limit=0)["total"]
            if total >= expected:
                return total
            time.sleep(0.2)
        return total


@pytest.fixture
def server(tmp_path):
    srv = Server(tmp_path / "data", tmp_path / "server.log").start()
    yield srv
    srv.stop()
