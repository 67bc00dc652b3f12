"""The phishing intake counters end to end: real phishing messages submitted through
`POST /api/v1/phish`, a body over the API's size limit refused with 413 (and counted as a
size refusal), an empty body refused as unparsable; the counters survive a clean restart
(saved at shutdown) and a `kill -9` (saved every 30 s while they change), in the API and in
`/metrics`."""

import json
import socket
import time

from conftest import SHARED, Server

CORPUS = SHARED / "email" / "phishing"
MESSAGES = [CORPUS / "sample-1020.eml", CORPUS / "sample-100.eml", CORPUS / "sample-1220.eml"]
# The API's body limit (api::MAX_BODY_BYTES).
MAX_BODY_BYTES = 100 * 1024 * 1024


def post_oversized(server):
    """POSTs exactly one byte more than the limit over a raw socket: the server reads it all
    before refusing, so its answer is not lost to a reset."""
    size = MAX_BODY_BYTES + 1
    head = (f"POST /api/v1/phish HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {server.token}\r\nContent-Type: message/rfc822\r\n"
            f"Content-Length: {size}\r\nConnection: close\r\n\r\n").encode()
    chunk = b"A" * (1 << 20)
    with socket.create_connection(("127.0.0.1", server.http_port), timeout=120) as conn:
        conn.sendall(head)
        sent = 0
        try:
            while sent < size:
                part = chunk[: min(len(chunk), size - sent)]
                conn.sendall(part)
                sent += len(part)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered before the last bytes; read what it said
        answer = b""
        while True:
            try:
                data = conn.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            answer += data
    status_line, _, rest = answer.partition(b"\r\n")
    body = rest.partition(b"\r\n\r\n")[2]
    return int(status_line.split()[1]), body


def stats(server):
    status, body = server.request("GET", "/api/v1/phish/stats")
    assert status == 200, body
    return body


def metric(server, line_prefix):
    status, text = server.request("GET", "/metrics")
    assert status == 200
    lines = [line for line in text.splitlines() if line.startswith(line_prefix + " ")]
    assert len(lines) == 1, text[-3000:]
    return float(lines[0].split()[-1])


def test_size_refusal_and_counters_survive_restarts(tmp_path):
    server = Server(tmp_path / "data", tmp_path / "server.log").start()
    try:
        for eml in MESSAGES[:2]:
            status, report = server.request("POST", "/api/v1/phish", body=eml.read_bytes())
            assert status == 200, report
        status, body = post_oversized(server)
        assert status == 413, body
        assert json.loads(body)["error"]["code"] == "too_large", body
        status, body = server.request("POST", "/api/v1/phish", body=b"")
        assert status == 400, body
        before = stats(server)
        assert before["received"] == {"smtp": 0, "api": 4}, before
        assert before["refused"] == {"size": 1, "recipient": 0, "parse": 1}, before
        assert before["analysed"] == 2, before
        assert sum(before["verdicts"].values()) == 2, before
        assert metric(server, 'phish_reports_refused_total{reason="size"}') == 1

        # A clean restart: the counters are saved at shutdown and reloaded.
        server.stop()
        server.start()
        assert stats(server) == before
        assert metric(server, 'phish_reports_received_total{channel="api"}') == 4
        assert metric(server, 'phish_reports_refused_total{reason="size"}') == 1

        # They keep counting; a `kill -9` loses at most the last 30 s, so once the periodic
        # save has written the new count, it survives.
        status, report = server.request("POST", "/api/v1/phish", body=MESSAGES[2].read_bytes())
        assert status == 200, report
        saved = server.data_dir / "phish" / "stats.json"
        deadline = time.time() + 120
        while time.time() < deadline and json.loads(saved.read_text())["analysed"] != 3:
            time.sleep(0.5)
        assert json.loads(saved.read_text())["analysed"] == 3, saved.read_text()
        server.kill9()
        server.start()
        after = stats(server)
        assert after["analysed"] == 3 and after["received"]["api"] == 5, after
        assert after["since"] == before["since"], after
    finally:
        server.stop()
