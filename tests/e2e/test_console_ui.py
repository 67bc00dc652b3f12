"""The web console in headless Chromium (Debian `chromium` + npm `playwright-core`).

The server gets real data (OpenSSH lines from loghub over syslog TCP with fresh timestamps,
a SigmaHQ EVTX attack sample) plus hostile input written the way attackers would: markup
and `javascript:` URLs in syslog lines, event fields and a Sigma rule's own text. The
browser script (console/console.test.mjs) signs in, changes the one-time password, searches,
opens events, pivots, triages an alert, switches language, signs out, and checks as a viewer;
it fails if any payload executes. Screenshots go to $CONSOLE_SCREENSHOTS or the pytest tmp dir.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from conftest import BIN, ROOT, SHARED, Server

CONSOLE = ROOT / "tests" / "e2e" / "console"
CURL_RULE = SHARED / "sigma" / "rules" / "windows" / "process_creation" / "proc_creation_win_curl_custom_user_agent.yml"
CURL_EVTX = SHARED / "sigma" / "regression_data" / "rules" / "windows" / "process_creation" / "proc_creation_win_curl_custom_user_agent"
OPENSSH = SHARED / "logs" / "loghub" / "OpenSSH" / "OpenSSH_2k.log"
# A real reported phishing message (phishing_pot) the analyzer judges malicious.
PHISH_EML = SHARED / "email" / "phishing" / "sample-1020.eml"
HOSTILE_EML = (
    "From: \"<script>alert(30)</script>\" <ceo@evil.example>\r\n"
    "To: staff@comune-esempio.it\r\n"
    "Subject: <img src=x onerror=alert(31)> urgent\r\n"
    "Date: Sun, 22 Nov 2026 10:00:00 +0000\r\n"
    "Content-Type: text/plain\r\n\r\n"
    "Pay now at javascript:alert(32) <svg onload=alert(33)>\r\n"
)

XSS_RULE = """title: XSS probe <img src=x onerror=alert(4)>
id: 5b0d6a43-1c2e-4f00-8000-00000000a551
status: experimental
description: 'A command line carrying markup <script>alert(5)</script> must show as text'
references:
  - 'javascript:alert(6)'
  - https://owasp.org/www-community/attacks/xss/
author: '"><svg onload=alert(7)>'
tags:
  - attack.execution
  - attack.t1059.007
logsource:
  product: windows
  category: process_creation
detection:
  selection:
    CommandLine|contains: 'onerror'
  condition: selection
level: high
"""

HOSTILE_SYSLOG = [
    "<script>alert('syslog')</script> login attempt",
    "user \"><img src=x onerror=alert(14)> failed",
    "redirect to javascript:alert(15) blocked",
]

# scripts/test installs Debian chromium and playwright-core (npm ci in tests/e2e/console).
assert shutil.which("node"), "node is needed for the console tests"


def syslog_lines(now):
    """The first 400 OpenSSH lines as RFC 5424, spread over the last 20 hours."""
    pattern = re.compile(r"^\w{3}\s+\d+ [\d:]+ (\S+) (\w+)\[(\d+)\]: (.*)$")
    lines = []
    raw = OPENSSH.read_text(errors="replace").splitlines()[:400]
    for i, line in enumerate(raw):
        match = pattern.match(line)
        if not match:
            continue
        host, app, pid, msg = match.groups()
        ts = (now - timedelta(seconds=(len(raw) - i) * 180)).strftime("%Y-%m-%dT%H:%M:%SZ")
        lines.append(f"<38>1 {ts} {host} {app} {pid} - - {msg}")
    ts = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    for msg in HOSTILE_SYSLOG:
        lines.append(f"<34>1 {ts} evil-host-<b>x</b> webapp 666 - - {msg}")
    # One line whose RFC 5424 header is broken: kept, with `log.parse_error`.
    lines.append("<34>1 not-a-timestamp broken header")
    return lines


@pytest.fixture
def console_server(tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    shutil.copy(CURL_RULE, rules / CURL_RULE.name)
    (rules / "xss_probe.yml").write_text(XSS_RULE)
    srv = Server(tmp_path / "data", tmp_path / "server.log", extra_args=["--rules", str(rules)]).start()
    yield srv
    srv.stop()


def test_console_end_to_end(console_server, tmp_path):
    server = console_server
    now = datetime.now(timezone.utc)
    one_time = (server.data_dir / "initial-admin-password").read_text().strip()

    # Real log lines and hostile ones over syslog TCP (newline framing).
    lines = syslog_lines(now)
    assert len(lines) > 300
    with socket.create_connection(("127.0.0.1", server.syslog_port)) as sock:
        sock.sendall(("\n".join(lines) + "\n").encode())
    # A real attack sample raises a SigmaHQ alert.
    subprocess.run([BIN, "import", "--data-dir", str(server.data_dir), "--server", server.url,
                    str(next(CURL_EVTX.glob("*.evtx")))], check=True, capture_output=True, timeout=600)
    # A hostile process-creation event raises the XSS probe alert.
    hostile = {
        "@timestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "message": "javascript:alert(12) <script>window.__pwned=true</script>",
        "event": {"original": "<script>alert(13)</script><img src=x onerror=alert(16)>"},
        "host": {"name": "ws-<script>alert(10)</script>"},
        "user": {"name": "\"><img src=x onerror=alert(11)>"},
        "winlog": {"channel": "Microsoft-Windows-Sysmon/Operational", "event_id": "1",
                   "event_data": {"CommandLine": "cmd.exe /c \"><img src=x onerror=alert(9)>",
                                  "Image": "C:\\Windows\\System32\\cmd.exe"}},
    }
    status, body = server.request("POST", "/api/v1/ingest", json.dumps(hostile).encode(),
                                  headers={"Content-Type": "application/x-ndjson"})
    assert status == 200, body
    server.refresh()
    assert server.wait_total("*", len(lines) + 1) >= len(lines) + 1
    deadline = time.time() + 60
    while time.time() < deadline:
        status, alerts = server.request("GET", "/api/v1/alerts?limit=10")
        if alerts["total"] >= 2:
            break
        time.sleep(0.3)
    assert alerts["total"] >= 2, alerts

    # Ingest health per source: the syslog TCP sender (one broken header) and HTTP ingest.
    status, health = server.request("GET", "/api/v1/ingest/health")
    assert status == 200, health
    by_source = {row["source"]: row for row in health["sources"]}
    assert by_source["syslog-tcp 127.0.0.1"]["events"] == len(lines), health
    assert by_source["syslog-tcp 127.0.0.1"]["parse_fallbacks"] == 1, health
    # HTTP API callers are told apart by who they are (here the admin token).
    assert by_source["http admin-token"]["events"] == 1 and by_source["http admin-token"]["parse_fallbacks"] == 0, health
    assert not any(row["silent"] for row in health["sources"]) and health["silent_sources"] == 0
    assert health["udp_dropped_events"] == 0 and health["rejected_requests"] == 0
    assert health["silent_after_secs"] == 3600
    # A threshold shorter than the time since the last event flags every source silent.
    time.sleep(1.1)
    status, strict = server.request("GET", "/api/v1/ingest/health?silent_after_secs=1")
    assert status == 200 and strict["silent_sources"] == len(strict["sources"]) >= 2, strict
    assert server.request("GET", "/api/v1/ingest/health?silent_after_secs=0")[0] == 400

    # Users made with the CLI while the server runs (through its API).
    for name, role in (("carla", "analyst"), ("vera", "viewer")):
        result = subprocess.run([BIN, "user", "add", name, "--role", role, "--password-stdin",
                                 "--data-dir", str(server.data_dir), "--server", server.url],
                                input="viewer password 123\n", capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr

    # A hostile reported message, submitted through the API before the browser looks.
    status, body = server.request("POST", "/api/v1/phish", body=HOSTILE_EML.encode())
    assert status == 200, body

    shots = Path(os.environ.get("CONSOLE_SCREENSHOTS") or tmp_path / "screenshots")
    config = {"adminOneTime": one_time, "adminPassword": "new admin password 2026",
              "viewer": "vera", "viewerPassword": "viewer password 123", "phishEml": str(PHISH_EML)}
    env = dict(os.environ, SENTINELLA_URL=server.url, SCREENSHOTS=str(shots), CONSOLE_CONFIG=json.dumps(config))
    result = subprocess.run(["node", str(CONSOLE / "console.test.mjs")], cwd=CONSOLE, env=env,
                            capture_output=True, text=True, timeout=900)
    observed = json.loads(result.stdout.strip().splitlines()[-1]) if result.stdout.strip() else {}
    assert result.returncode == 0, f"{result.stderr}\nobserved: {json.dumps(observed)[:3000]}\nscreenshots: {shots}"

    # Nothing attackers wrote ran, and all of it was shown as text.
    assert observed["dialogs"] == []
    assert observed["wrongPasswordMessage"] == "Invalid user name or password."
    assert "<script>alert('syslog')</script>" in observed["hostileText"]
    assert "onerror" in observed["hostileText"]
    assert observed["alertTitle"] == "XSS probe <img src=x onerror=alert(4)>"
    assert "javascript:alert(6)" in observed["alertDrawerText"]
    assert "T1059.007" in observed["alertDrawerText"]
    assert '"><svg onload=alert(7)>' in observed["alertDrawerText"]
    # Search, detail with ECS fields and the original text, pivot.
    assert "host.name" in observed["detailFields"] and "@timestamp" in observed["detailFields"]
    assert "Failed password" in observed["original"]
    assert observed["pivotQuery"].startswith('"Failed password" AND host.name:"')
    assert observed["savedQuery"] == observed["pivotQuery"]
    # The real SigmaHQ alert shows its attribution.
    assert "Curl Web Request" in observed.get("realAlertText", "")
    assert "Nasreddine" in observed.get("realAlertText", "") or "author" in observed.get("realAlertText", "").lower()
    # Language: Italian persisted per user; a new browser in it-IT starts in Italian.
    assert observed["navAfterReload"] == "Allarmi"
    assert observed["viewerDefaultLanguage"] == "Allarmi"
    # Sign-out ends the session; the viewer cannot change alerts, in the UI or by the API.
    assert observed["afterSignOut"] == 401
    assert observed["viewerHasAckButton"] == 0
    assert observed["viewerRuleToggles"] == 0
    assert observed["ruleTest"].startswith("1 alerts over "), observed["ruleTest"]
    assert observed["rulesSummary"].startswith("2 loaded"), observed["rulesSummary"]
    # Testing a rule against a pasted event: the verdict and why.
    assert observed["testerVerdict"] == "Matches", observed
    assert observed["testerSelections"] == "selection", observed
    assert observed["testerFields"] == "CommandLine", observed
    assert observed["testerPastedVerdict"] == "No match", observed
    assert observed["viewerForcedChange"]["status"] == 403
    assert observed["noCsrf"] == 403
    # The dashboard's per-source health table lists what the API reports.
    assert "syslog-tcp 127.0.0.1" in observed["sourceHealthRows"], observed["sourceHealthRows"]
    assert "http admin-token" in observed["sourceHealthRows"], observed["sourceHealthRows"]
    # The silent hosts card follows `[ingest_health] silent_after` (default one hour).
    assert observed["silentHostsLabel"] == "Hosts silent for over 1 hour", observed["silentHostsLabel"]

    # Phishing page: the real message uploaded from the browser is judged malicious, with
    # reasons; the override (notify asked, no relay configured) is kept and audited.
    assert "onerror" in observed["phishListBefore"]
    assert observed["phishVerdict"] == "Malicious", observed
    assert observed["phishScore"].startswith("score "), observed
    assert any("DMARC" in reason for reason in observed["phishReasons"]), observed["phishReasons"]
    assert observed["phishAfterOverride"] == "Suspicious", observed
    assert "Checked with the sender <b>not bold</b>" in observed["phishReportText"]
    assert observed["phishNotice"].startswith("Reporter notice: not sent"), observed["phishNotice"]
    assert observed["phishHostileSubject"] == "<img src=x onerror=alert(31)> urgent"
    # The viewer (Italian) reads the reasons in Italian and cannot override.
    assert observed["viewerPhishVerdict"] == "Sospetto", observed
    assert observed["viewerPhishReasons"] and observed["viewerPhishReasons"] != observed["phishReasons"]
    assert observed["viewerPhishOverride"] == 0 and observed["viewerPhishUpload"] == 0
    status, reports = server.request("GET", "/api/v1/phish/reports")
    uploaded = [r for r in reports["reports"] if "onerror" not in (r["subject"] or "")]
    assert len(uploaded) == 1 and uploaded[0]["verdict"] == "suspicious", reports
    assert uploaded[0]["overrides"][0]["actor"] == "admin"

    # The server agrees: the alert is closed as a true positive, with the comment, by admin.
    status, alerts = server.request("GET", "/api/v1/alerts?status=closed_true_positive")
    assert alerts["total"] == 1, alerts
    alert = alerts["hits"][0]
    assert alert["rule"]["name"].startswith("XSS probe")
    assert alert["sentinella"]["alert"]["comments"][0]["text"] == "Escalated to CERT <b>not bold</b>"
    assert alert["sentinella"]["alert"]["updated_by"] == "admin"
    status, acked = server.request("GET", "/api/v1/alerts?status=acknowledged")
    assert [hit["rule"]["name"] for hit in acked["hits"]] == ["Curl Web Request With Potential Custom User-Agent"]
    status, audit = server.request("GET", "/api/v1/audit?limit=200")
    actions = {entry["action"] for entry in audit["entries"]}
    assert {"sign_in_failed", "password_changed", "sign_in", "alert_changed", "sign_out", "user_created"} <= actions
    rule_changes = [e for e in audit["entries"] if e["action"] == "api_call" and e["target"].startswith("/api/v1/rules/")]
    assert rule_changes and rule_changes[0]["actor"] == "admin" and rule_changes[0]["detail"]["status"] == 200
    for name in ("01-signin", "03-dashboard", "03b-ingest-health", "04-search", "05-event-detail", "07-alerts", "08-alert-detail", "09d-phishing-report", "11-dashboard-it"):
        assert (shots / f"{name}.png").stat().st_size > 10_000, name
