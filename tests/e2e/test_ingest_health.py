"""Ingest health per source (`GET /api/v1/ingest/health`): configured silence thresholds,
senders told apart (HTTP API callers by user and token, syslog and Elasticsearch shippers by address),
the table kept across a restart, and the 429/drop counters when the pipeline is full.
"""

import concurrent.futures
import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

from conftest import ROOT, Server

CONSOLE = ROOT / "tests" / "e2e" / "console"

CONFIG = """
[ingest_health]
silent_after = "2h"
[[ingest_health.sources]]
match = "syslog-udp *"
silent_after = "1s"
"""


def now_rfc3339():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def post(url, body, headers):
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(errors="replace")


def personal_tokens(server, user, password, names):
    """Signs `user` in and makes personal API tokens, as a script's owner would."""
    status, _ = server.request("POST", "/api/v1/users", {"name": user, "role": "analyst", "password": password})
    assert status == 200, _
    request = urllib.request.Request(server.url + "/api/v1/session", method="POST",
                                     data=json.dumps({"user": user, "password": password}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        cookie = response.headers["Set-Cookie"].split(";")[0]
        csrf = json.loads(response.read())["csrf"]
    tokens = []
    for name in names:
        status, body = post(server.url + "/api/v1/tokens", json.dumps({"name": name}).encode(),
                            {"Content-Type": "application/json", "Cookie": cookie, "X-CSRF-Token": csrf})
        assert status == 200, body
        tokens.append(body["token"])
    return tokens


def health(server, query=""):
    status, body = server.request("GET", "/api/v1/ingest/health" + query)
    assert status == 200, body
    return body


def wait_sources(server, expected, timeout=60):
    deadline = time.time() + timeout
    while True:
        report = health(server)
        by_source = {row["source"]: row for row in report["sources"]}
        if all(by_source.get(key, {}).get("events", 0) >= n for key, n in expected.items()) or time.time() > deadline:
            return report, by_source
        time.sleep(0.2)


def test_sources_are_told_apart_flagged_by_config_and_kept_across_restart(tmp_path):
    config = tmp_path / "sentinella.toml"
    config.write_text(CONFIG)
    server = Server(tmp_path / "data", tmp_path / "server.log", extra_args=["--config", str(config)]).start()
    try:
        token, nightly = personal_tokens(server, "alice", "alice password 2026", ["shipper", "nightly"])
        event = json.dumps({"@timestamp": now_rfc3339(), "message": "from a script"}).encode()
        ndjson = {"Content-Type": "application/x-ndjson"}
        # The same endpoint, three callers: the admin token and two of alice's personal
        # tokens (two scripts of one user are two sources).
        for _ in range(2):
            assert post(server.url + "/api/v1/ingest", event, {**ndjson, "Authorization": f"Bearer {server.token}"})[0] == 200
        for _ in range(3):
            assert post(server.url + "/api/v1/ingest", event, {**ndjson, "Authorization": f"Bearer {token}"})[0] == 200
        assert post(server.url + "/api/v1/ingest", event, {**ndjson, "Authorization": f"Bearer {nightly}"})[0] == 200
        # A shipper on the Elasticsearch API, syslog over TCP and UDP: by address.
        bulk = (json.dumps({"create": {"_index": "logs-app"}}) + "\n" + json.dumps({"@timestamp": now_rfc3339(), "message": "bulk"}) + "\n").encode()
        status, body = post(server.es_url + "/_bulk", bulk, {**ndjson, "Authorization": f"Bearer {server.token}"})
        assert status == 200 and not body["errors"], body
        with socket.create_connection(("127.0.0.1", server.syslog_port)) as sock:
            sock.sendall(b"<34>1 2026-01-01T00:00:00Z web app - - - tcp line\nnot syslog at all\n")
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.sendto(b"<34>1 2026-01-01T00:00:00Z web app - - - udp line", ("127.0.0.1", server.syslog_port))
        udp.close()
        expected = {"http admin-token": 2, "http alice/shipper": 3, "http alice/nightly": 1, "es-bulk 127.0.0.1": 1,
                    "syslog-tcp 127.0.0.1": 2, "syslog-udp 127.0.0.1": 1}
        report, by_source = wait_sources(server, expected)
        assert {key: by_source[key]["events"] for key in expected} == expected, report
        assert by_source["syslog-tcp 127.0.0.1"]["parse_fallbacks"] == 1
        # The configured thresholds: two hours, one second for UDP senders.
        assert report["silent_after_secs"] == 7200
        assert report["silent_after_overrides"] == [{"match": "syslog-udp *", "silent_after_secs": 1}]
        # The dashboard's silent hosts card reads the default threshold from the stats.
        status, stats = server.request("GET", "/api/v1/stats")
        assert status == 200 and stats["ingest_silent_after_secs"] == 7200, stats
        assert by_source["syslog-udp 127.0.0.1"]["silent_after_secs"] == 1
        assert by_source["http alice/shipper"]["silent_after_secs"] == 7200
        time.sleep(1.5)
        report = health(server)
        silent = [row["source"] for row in report["sources"] if row["silent"]]
        assert silent == ["syslog-udp 127.0.0.1"], report
        assert report["silent_sources"] == 1

        # A clean restart: the table is saved and read back, counts and times intact.
        before = {row["source"]: row for row in report["sources"]}
        server.stop()
        assert (server.data_dir / "ingest-health.json").is_file()
        server.start()
        after = {row["source"]: row for row in health(server)["sources"]}
        for key in expected:
            for column in ("events", "parse_fallbacks", "first_seen", "last_event"):
                assert after[key][column] == before[key][column], (key, column, after[key], before[key])
        # New events add to the restored counts.
        assert post(server.url + "/api/v1/ingest", event, {**ndjson, "Authorization": f"Bearer {token}"})[0] == 200
        _, by_source = wait_sources(server, {"http alice/shipper": 4})
        assert by_source["http alice/shipper"]["events"] == 4
        assert by_source["http alice/shipper"]["first_seen"] == before["http alice/shipper"]["first_seen"]
        assert by_source["http alice/nightly"]["events"] == 1

        # The dashboard's silent hosts card says the configured threshold (headless
        # Chromium, console/ingest_health.test.mjs).
        shots = Path(os.environ.get("CONSOLE_SCREENSHOTS") or tmp_path / "screenshots")
        env = dict(os.environ, SENTINELLA_URL=server.url, SCREENSHOTS=str(shots),
                   CONSOLE_CONFIG=json.dumps({"user": "alice", "password": "alice password 2026"}))
        result = subprocess.run(["node", str(CONSOLE / "ingest_health.test.mjs")], cwd=CONSOLE, env=env,
                                capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, f"{result.stderr}\n{result.stdout}\nscreenshots: {shots}"
        observed = json.loads(result.stdout.strip().splitlines()[-1])
        assert observed["labelEn"] == "Hosts silent for over 2 hours", observed
        assert observed["labelIt"] == "Host silenziosi da oltre 2 ore", observed
    finally:
        server.stop()


def test_a_full_pipeline_moves_the_rejected_and_dropped_counters(tmp_path):
    # A one-batch queue: while the writer fsyncs a group, the next batch fills it.
    config = tmp_path / "sentinella.toml"
    config.write_text("[store]\nqueue_batches = 1\n")
    server = Server(tmp_path / "data", tmp_path / "server.log", extra_args=["--config", str(config)]).start()
    try:
        line = json.dumps({"@timestamp": now_rfc3339(), "message": "x" * 200})
        body = ("\n".join([line] * 2000) + "\n").encode()
        headers = {"Content-Type": "application/x-ndjson", "Authorization": f"Bearer {server.token}"}
        bulk = "".join(json.dumps({"create": {"_index": "logs-load"}}) + "\n" + line + "\n" for _ in range(2000)).encode()

        def send(i):
            if i % 2:
                return post(server.es_url + "/_bulk", bulk, headers)[0]
            return post(server.url + "/api/v1/ingest", body, headers)[0]

        statuses = []
        deadline = time.time() + 120
        with concurrent.futures.ThreadPoolExecutor(max_workers=24) as pool:
            # Rounds of concurrent senders until the pipeline has refused some of them.
            while time.time() < deadline and statuses.count(429) < 3:
                statuses += list(pool.map(send, range(48)))
        n_rejected = statuses.count(429)
        assert n_rejected >= 1, f"no 429 in {len(statuses)} requests"
        assert set(statuses) <= {200, 429}, set(statuses)

        # UDP cannot be told to wait: what does not fit is dropped and counted.
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        datagram = b"<34>1 2026-01-01T00:00:00Z web app - - - " + b"y" * 900
        deadline = time.time() + 120
        while time.time() < deadline and health(server)["udp_dropped_events"] == 0:
            for _ in range(20_000):
                udp.sendto(datagram, ("127.0.0.1", server.syslog_port))
        udp.close()

        report = health(server)
        # Every 429 a client saw is counted, and nothing else is.
        assert report["rejected_requests"] == n_rejected, (report["rejected_requests"], n_rejected)
        assert report["udp_dropped_events"] > 0, report
        # What was accepted is all in the table.
        # (A sender all of whose requests were refused has no row.)
        accepted = {"http admin-token": statuses[0::2].count(200) * 2000,
                    "es-bulk 127.0.0.1": statuses[1::2].count(200) * 2000}
        _, by_source = wait_sources(server, accepted)
        assert {key: by_source.get(key, {}).get("events", 0) for key in accepted} == accepted

        # The counters survive a restart too.
        server.stop()
        server.start()
        restored = health(server)
        assert restored["rejected_requests"] == n_rejected
        # (Datagrams still in the socket buffer at the report may have been dropped since.)
        assert restored["udp_dropped_events"] >= report["udp_dropped_events"]
    finally:
        server.stop()


def test_periodic_saves_survive_kill_9(tmp_path):
    config = tmp_path / "sentinella.toml"
    config.write_text('[ingest_health]\nsave_every = "1s"\n')
    server = Server(tmp_path / "data", tmp_path / "server.log", extra_args=["--config", str(config)]).start()
    try:
        with socket.create_connection(("127.0.0.1", server.syslog_port)) as sock:
            sock.sendall(b"".join(b"<34>1 2026-01-01T00:00:00Z web app - - - line %d\n" % i for i in range(25)))
        _, by_source = wait_sources(server, {"syslog-tcp 127.0.0.1": 25})
        assert by_source["syslog-tcp 127.0.0.1"]["events"] == 25
        # The saver writes the changed table within a second or so; no clean shutdown follows.
        saved_file = server.data_dir / "ingest-health.json"
        deadline = time.time() + 60
        while time.time() < deadline:
            if saved_file.is_file() and '"events":25' in saved_file.read_text():
                break
            time.sleep(0.2)
        server.kill9()
        server.start()
        _, by_source = wait_sources(server, {"syslog-tcp 127.0.0.1": 25}, timeout=5)
        assert by_source["syslog-tcp 127.0.0.1"]["events"] == 25, by_source
    finally:
        server.stop()
