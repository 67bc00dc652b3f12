"""The real rsyslog daemon ships to a real server: omfwd over TCP (octet-counted RFC 5424 and
newline-framed RFC 3164), UDP, and TLS (RFC 5425, gtls) with anonymous and x509/name auth.

Each test runs its own `rsyslogd -n -f CONF -i PIDFILE` with its own work directory and no
system inputs: `imfile` tails a log file the test appends sshd-style lines to, and a ruleset
bound to that input forwards them to Sentinella with `omfwd`.
"""

import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from conftest import BIN, Server, free_port

RSYSLOGD = shutil.which("rsyslogd") or shutil.which("rsyslogd", path="/usr/sbin:/usr/local/sbin:/sbin")
OPENSSL = shutil.which("openssl")

pytestmark = pytest.mark.skipif(
    RSYSLOGD is None, reason="rsyslogd not installed (scripts/test installs rsyslog rsyslog-gnutls)"
)

BURST = 300
UDP_PACING = 'queue.dequeueBatchSize="16" queue.dequeueSlowdown="1000"'


class TlsServer(Server):
    """`sentinella serve --config FILE` with `[syslog.tls]` on its own port (flags keep the rest)."""

    def __init__(self, data_dir: Path, log_path: Path, cert: Path, key: Path):
        super().__init__(data_dir, log_path)
        self.tls_port = free_port()
        self.config_path = log_path.parent / "sentinella.toml"
        self.config_path.write_text(
            "version = 1\n\n"
            # `[syslog] listen` must be in the file as soon as `[syslog.tls]` is, even though
            # `--syslog-listen` overrides it (the table has no default for `listen`).
            "[syslog]\n"
            f'listen = "127.0.0.1:{self.syslog_port}"\n\n'
            "[syslog.tls]\n"
            f'listen = "127.0.0.1:{self.tls_port}"\n'
            f'cert_path = "{cert}"\n'
            f'key_path = "{key}"\n'
        )

    def start(self):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [BIN, "serve", "--config", str(self.config_path), "--data-dir", str(self.data_dir),
             "--http-listen", f"127.0.0.1:{self.http_port}",
             "--es-listen", f"127.0.0.1:{self.es_port}",
             "--syslog-listen", f"127.0.0.1:{self.syslog_port}"],
            stdout=log, stderr=subprocess.STDOUT,
        )
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-3000:]}")
            try:
                urllib.request.urlopen(self.url + "/health", timeout=1)
                return self
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.1)
        raise RuntimeError("server did not start")


@pytest.fixture
def tls_cert(tmp_path):
    if OPENSSL is None:
        pytest.skip("openssl CLI not installed (scripts/test installs openssl)")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True,
    )
    return cert, key


@pytest.fixture
def tls_server(tmp_path, tls_cert):
    cert, key = tls_cert
    srv = TlsServer(tmp_path / "data", tmp_path / "server.log", cert, key).start()
    yield srv
    srv.stop()


class Rsyslog:
    """One private rsyslogd: imfile on `self.source` → ruleset `fwd` → one omfwd action."""

    def __init__(self, root: Path, action: str, global_extra: str = ""):
        self.root = root
        self.work = root / "work"
        self.work.mkdir(parents=True)
        self.source = root / "auth.log"
        self.source.touch()
        self.conf = root / "rsyslog.conf"
        self.pidfile = root / "rsyslogd.pid"
        self.log_path = root / "rsyslogd.log"
        self.internal_log = root / "internal.log"
        self.conf.write_text(f"""
global(workDirectory="{self.work}" processInternalMessages="on" {global_extra})
module(load="imfile" mode="inotify")
input(type="imfile" file="{self.source}" tag="sshd[4242]:" facility="authpriv"
      severity="info" ruleset="fwd" freshStartTail="off")
ruleset(name="fwd") {{
  {action}
}}
# rsyslogd's own messages (connection errors, TLS failures) for diagnostics.
action(type="omfile" file="{self.internal_log}")
""")
        self.proc = None

    def start(self):
        check = subprocess.run([RSYSLOGD, "-N1", "-f", str(self.conf)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        self.log = log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [RSYSLOGD, "-n", "-f", str(self.conf), "-i", str(self.pidfile)],
            stdout=log, stderr=subprocess.STDOUT, cwd=self.root,
        )
        deadline = time.time() + 15
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"rsyslogd exited: {self.log_path.read_text()[-3000:]}")
            if self.pidfile.exists() and self.pidfile.read_text().strip():
                return self
            time.sleep(0.05)
        raise RuntimeError(f"rsyslogd did not start: {self.log_path.read_text()[-3000:]}")

    def write(self, lines):
        with open(self.source, "a") as f:
            f.write("".join(line + "\n" for line in lines))

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.log.close()

    def diagnostics(self):
        return "".join(
            path.read_text(errors="replace")[-3000:]
            for path in (self.log_path, self.internal_log) if path.exists()
        )


@pytest.fixture
def rsyslog(tmp_path):
    started = []

    def make(action, global_extra=""):
        daemon = Rsyslog(tmp_path / "rsyslog", action, global_extra).start()
        started.append(daemon)
        return daemon

    yield make
    for daemon in started:
        daemon.stop()


def omfwd(port, protocol, template, extra=""):
    # A disk-less in-memory queue that retries forever: nothing is dropped while connecting.
    return (
        f'action(type="omfwd" target="127.0.0.1" port="{port}" protocol="{protocol}" '
        f'template="{template}" queue.type="LinkedList" action.resumeRetryCount="-1" '
        f'action.resumeInterval="1" {extra})'
    )


def ssh_line(user, marker):
    return f"Failed password for invalid user {user} from 203.0.113.5 port 22 ssh2 {marker}"


def wait_exact(server, query, expected, diagnostics, timeout=20):
    total = server.wait_total(query, expected, timeout=timeout)
    # Give duplicates a chance to show up before asserting "exactly".
    time.sleep(1.2)
    total = server.search(query, limit=0)["total"]
    assert total == expected, f"{query}: {total} != {expected}\nrsyslogd: {diagnostics()}"


def assert_shipped(server, daemon, input_type, parser_prefix, burst=BURST):
    marker = uuid.uuid4().hex
    daemon.write([ssh_line("mallory", marker)])
    wait_exact(server, marker, 1, daemon.diagnostics)
    hit = server.search(marker)["hits"][0]
    assert hit["input"]["type"] == input_type, hit
    assert hit["log"]["parser"].startswith(parser_prefix), hit
    assert hit["log"]["parser"].endswith("+sshd"), hit
    assert marker in hit["event"]["original"], hit
    assert hit["source"]["ip"] == "203.0.113.5", hit
    assert hit["user"]["name"] == "mallory", hit
    assert hit["process"]["name"] == "sshd", hit
    assert str(hit["process"]["pid"]) == "4242", hit

    # A burst: every line arrives exactly once (one terms bucket per user, each of count 1).
    run = uuid.uuid4().hex
    daemon.write([ssh_line(f"u{i}x{run[:6]}", run) for i in range(burst)])
    wait_exact(server, run, burst, daemon.diagnostics)
    status, body = server.request("POST", "/api/v1/search", {
        "q": run, "limit": 0,
        "aggregations": [{"type": "terms", "name": "users", "field": "user.name", "size": burst + 10}],
    })
    assert status == 200, body
    buckets = body["aggregations"]["users"]["buckets"]
    assert len(buckets) == burst, len(buckets)
    assert {b["doc_count"] for b in buckets} == {1}
    assert server.search(f"{run} AND input.type:{input_type}", limit=0)["total"] == burst


def test_rsyslog_tcp_octet_counted_rfc5424(server, rsyslog):
    daemon = rsyslog(omfwd(server.syslog_port, "tcp", "RSYSLOG_SyslogProtocol23Format",
                           'TCP_Framing="octet-counted"'))
    assert_shipped(server, daemon, "syslog-tcp", "syslog.rfc5424")


@pytest.mark.parametrize("template", ["RSYSLOG_TraditionalForwardFormat", "RSYSLOG_ForwardFormat"])
def test_rsyslog_tcp_newline_rfc3164(server, rsyslog, template):
    daemon = rsyslog(omfwd(server.syslog_port, "tcp", template))
    assert_shipped(server, daemon, "syslog-tcp", "syslog.rfc3164")


def test_rsyslog_tcp_newline_rfc5424(server, rsyslog):
    daemon = rsyslog(omfwd(server.syslog_port, "tcp", "RSYSLOG_SyslogProtocol23Format"))
    assert_shipped(server, daemon, "syslog-tcp", "syslog.rfc5424")


@pytest.mark.parametrize(
    "template,parser",
    [("RSYSLOG_TraditionalForwardFormat", "syslog.rfc3164"),
     ("RSYSLOG_SyslogProtocol23Format", "syslog.rfc5424")],
)
def test_rsyslog_udp(server, rsyslog, template, parser):
    # UDP has no flow control: rsyslog is paced (a batch of 16 per millisecond, still ~10k
    # lines/s) so that the kernel socket buffer, not Sentinella, is never the question.
    daemon = rsyslog(omfwd(server.syslog_port, "udp", template, UDP_PACING))
    assert_shipped(server, daemon, "syslog-udp", parser)


def udp_loss_counters(server):
    """Datagrams lost and counted: in the kernel (host-wide) and in Sentinella's queue."""
    status, text = server.request("GET", "/metrics")
    assert status == 200
    total = 0
    for line in text.splitlines():
        if line.startswith(("host_udp_receive_buffer_errors_total", "ingest_udp_dropped_events_total")):
            total += int(float(line.rsplit(" ", 1)[1]))
    return total


def test_rsyslog_udp_unpaced_burst_arrives_or_is_counted(server, rsyslog):
    """UDP cannot push back: a burst must either arrive whole or its loss must show in /metrics.

    The socket asks for an 8 MiB receive buffer (capped by net.core.rmem_max), so on a
    host with the usual limits the burst arrives whole.
    """
    daemon = rsyslog(omfwd(server.syslog_port, "udp", "RSYSLOG_TraditionalForwardFormat"))
    warm = uuid.uuid4().hex
    daemon.write([ssh_line("warm", warm)])
    assert server.wait_total(warm, 1) == 1
    time.sleep(1.5)  # an idle listener, then a burst: what a real relay does after a quiet spell
    counted_before = udp_loss_counters(server)
    run = uuid.uuid4().hex
    daemon.write([ssh_line(f"u{i}", run) for i in range(BURST)])
    total = server.wait_total(run, BURST, timeout=8)
    assert total <= BURST, "duplicated"
    lost = BURST - total
    counted = udp_loss_counters(server) - counted_before
    assert counted >= lost, f"{lost} of {BURST} datagrams lost but only {counted} counted"


@pytest.mark.parametrize(
    "framing,template,parser",
    [("octet-counted", "RSYSLOG_SyslogProtocol23Format", "syslog.rfc5424"),
     ("traditional", "RSYSLOG_TraditionalForwardFormat", "syslog.rfc3164")],
)
def test_rsyslog_tls_anon(tls_server, tls_cert, rsyslog, framing, template, parser):
    cert, _ = tls_cert
    daemon = rsyslog(
        omfwd(tls_server.tls_port, "tcp", template,
              f'TCP_Framing="{framing}" StreamDriver="gtls" StreamDriverMode="1" '
              'StreamDriverAuthMode="anon"'),
        global_extra=f'DefaultNetstreamDriverCAFile="{cert}"',
    )
    assert_shipped(tls_server, daemon, "syslog-tls", parser)


def test_rsyslog_tls_verifies_server_name(tls_server, tls_cert, rsyslog):
    cert, _ = tls_cert
    daemon = rsyslog(
        omfwd(tls_server.tls_port, "tcp", "RSYSLOG_SyslogProtocol23Format",
              'TCP_Framing="octet-counted" StreamDriver="gtls" StreamDriverMode="1" '
              'StreamDriverAuthMode="x509/name" StreamDriverPermittedPeers="localhost"'),
        global_extra=f'DefaultNetstreamDriverCAFile="{cert}"',
    )
    assert_shipped(tls_server, daemon, "syslog-tls", "syslog.rfc5424", burst=50)


def test_plain_tcp_sender_is_not_accepted_on_the_tls_port(tls_server, rsyslog):
    # rsyslog without TLS pointed at the TLS port: nothing may be stored as an event.
    marker = uuid.uuid4().hex
    daemon = rsyslog(omfwd(tls_server.tls_port, "tcp", "RSYSLOG_SyslogProtocol23Format",
                           'TCP_Framing="octet-counted"'))
    daemon.write([ssh_line("mallory", marker)])
    time.sleep(3)
    tls_server.refresh()
    assert tls_server.search(marker, limit=0)["total"] == 0
    assert tls_server.proc.poll() is None
