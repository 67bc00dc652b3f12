"""The console against hostile Windows event logs, and rule levels changed in the browser.

1. A real Sysmon EVTX attack sample is rewritten so that its CommandLine, Image,
   TargetFilename, Description, Company, User and Computer values carry `<script>`,
   `"><img onerror=…>` and `javascript:` payloads, and moved to the current time
   (evtx_payloads.py: same UTF-16 lengths, checksums recomputed; python-evtx verifies them
   independently). `sentinella import` reads
   every record into a running server, a Sigma rule matches on the payload, and the browser
   (console/evtx_xss.test.mjs) opens the dashboard (top hosts and users), the search results, every event's detail, its original
   text, pivots on hostile values, the alert list and the alert detail: nothing may execute
   and every payload must show as text.
2. An analyst changes a rule's level with the select on the Rules page
   (console/rules_level.test.mjs); the API lists the override and the next alert carries
   the new level; a viewer sees the level but no control.
"""

import json
import os
import shutil
import subprocess
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from conftest import BIN, ROOT, SHARED, Server

import evtx_payloads

CONSOLE = ROOT / "tests" / "e2e" / "console"
SAMPLE = SHARED / "evtx" / "attack-samples" / "Execution" / "sysmon_11_1_lolbas_downldr_desktopimgdownldr.evtx"

PAYLOAD_RULE = """title: Markup in a process command line
id: 0f5e7f4c-3c1b-4a7e-9d55-6c2f0e8b1a01
status: experimental
description: A command line carrying an HTML event handler, as a crafted EVTX file would
author: Sentinella e2e
tags:
  - attack.execution
logsource:
  product: windows
  category: process_creation
detection:
  selection:
    CommandLine|contains: "onerror=alert('cmd')"
  condition: selection
level: high
"""

SERVER_CONFIG = """
[retention]
max_age_days = 36500
max_bytes = 53687091200
[ingest_health]
silent_after = "90m"
"""

# scripts/test installs Debian chromium and playwright-core (npm ci in tests/e2e/console).
assert shutil.which("node"), "node is needed for the console tests"

PASSWORDS = {"ana": "analyst password 2026", "vic": "viewer password 2026"}


def add_users(server):
    for name, role in (("ana", "analyst"), ("vic", "viewer")):
        result = subprocess.run([BIN, "user", "add", name, "--role", role, "--password-stdin",
                                 "--data-dir", str(server.data_dir), "--server", server.url],
                                input=PASSWORDS[name] + "\n", capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr


def run_browser(script, server, shots, config):
    env = dict(os.environ, SENTINELLA_URL=server.url, SCREENSHOTS=str(shots), CONSOLE_CONFIG=json.dumps(config))
    result = subprocess.run(["node", str(CONSOLE / script)], cwd=CONSOLE, env=env,
                            capture_output=True, text=True, timeout=900)
    observed = json.loads(result.stdout.strip().splitlines()[-1]) if result.stdout.strip() else {}
    assert result.returncode == 0, f"{result.stderr}\nobserved: {json.dumps(observed)[:3000]}\nscreenshots: {shots}"
    return observed


def wait_alerts(server, query, expected, timeout=60):
    deadline = time.time() + timeout
    while True:
        status, alerts = server.request("GET", f"/api/v1/alerts?{query}")
        assert status == 200, alerts
        if alerts["total"] >= expected or time.time() > deadline:
            return alerts
        time.sleep(0.3)


@pytest.fixture
def rules_server(tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "payload_rule.yml").write_text(PAYLOAD_RULE)
    # A retention policy and a silence threshold for the dashboard to show.
    config = tmp_path / "sentinella.toml"
    config.write_text(SERVER_CONFIG)
    srv = Server(tmp_path / "data", tmp_path / "server.log",
                 extra_args=["--rules", str(rules), "--config", str(config)]).start()
    yield srv
    srv.stop()


def test_generated_evtx_is_valid_and_carries_the_payloads(tmp_path):
    # As recorded in 2020, and moved to now.
    crafted = tmp_path / "xss.evtx"
    evtx_payloads.make(str(SAMPLE), str(tmp_path / "xss-2020.evtx"))
    assert "2020-07-03 08:47:20" in evtx_payloads.verify(str(tmp_path / "xss-2020.evtx"))[0]
    report = evtx_payloads.make(str(SAMPLE), str(crafted), now=True)
    replaced = {name for _, fields in report for name, _, _ in fields}
    assert {"CommandLine", "Image", "TargetFilename", "User", "Computer", "Company"} <= replaced, report
    # python-evtx checks the file header, every chunk's header and records CRC32 and
    # every record's two size fields; the original sample passes too.
    assert len(evtx_payloads.verify(str(SAMPLE))) == 3
    xml = evtx_payloads.verify(str(crafted))
    assert len(xml) == 3
    today = datetime.now(timezone.utc)
    assert all(f'SystemTime="{day:%Y-%m-%d}' in x or f'SystemTime="{today:%Y-%m-%d}' in x
               for x in xml for day in [today - timedelta(days=1)]), xml[0][:600]
    text = "\n".join(xml)
    for payload in ("onerror=alert(&apos;cmd&apos;)", "javascript:alert(9)//", "&lt;script&gt;x()&lt;/script&gt;"):
        assert payload in text or payload.replace("&apos;", "'") in text, payload
    # A flipped byte in a record is caught by the records checksum.
    broken = bytearray(crafted.read_bytes())
    broken[0x1000 + 0x200 + 200] ^= 0xFF
    (tmp_path / "broken.evtx").write_bytes(bytes(broken))
    with pytest.raises(AssertionError, match="chunk checksums"):
        evtx_payloads.verify(str(tmp_path / "broken.evtx"))


def test_hostile_evtx_fields_render_as_text(rules_server, tmp_path):
    server = rules_server
    crafted = tmp_path / "xss.evtx"
    evtx_payloads.make(str(SAMPLE), str(crafted), now=True)
    result = subprocess.run([BIN, "import", "--data-dir", str(server.data_dir), "--server", server.url, str(crafted)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    # The evtx crate reads every record of the rewritten file.
    assert "imported 3 records from 1 files (0 records unreadable, 0 files failed)" in result.stdout, result.stdout
    server.refresh()
    assert server.wait_total("log.parser:evtx", 3) == 3
    hits = server.search("log.parser:evtx", limit=10)["hits"]
    commands = [hit.get("process", {}).get("command_line", "") for hit in hits]
    assert sum("onerror=alert('cmd')" in c for c in commands) == 2, commands
    assert any(hit.get("host", {}).get("name", "").startswith('"><b>W</b>') for hit in hits), hits[0].get("host")
    alerts = wait_alerts(server, "status=&limit=10", 1)
    assert alerts["total"] >= 1, alerts
    add_users(server)

    shots = Path(os.environ.get("CONSOLE_SCREENSHOTS") or tmp_path / "screenshots")
    observed = run_browser("evtx_xss.test.mjs", server, shots, {"user": "ana", "password": PASSWORDS["ana"]})

    assert observed["dialogs"] == []
    # The dashboard: store size, the retention horizon and policy, the importer's health row.
    assert observed["retentionNote"] == "kept: 36,500 days · 50 GB", observed["retentionNote"]
    today = datetime.now(timezone.utc)
    assert observed["oldestPartition"] in (f"{today:%Y-%m-%d}", f"{today - timedelta(days=1):%Y-%m-%d}"), observed["oldestPartition"]
    # Top hosts, users and rules of the last 24 h carry the hostile names, as text; the host
    # entry links to a search that finds its events.
    assert '"><b>W</b>_' in observed["topHosts"], observed["topHosts"]
    assert "<b onclick=x>u</b>" in observed["topUsers"], observed["topUsers"]
    assert "Markup in a process command line" in observed["topRules"], observed["topRules"]
    assert observed["topHostQuery"].startswith("host.name:"), observed["topHostQuery"]
    assert observed["topHostRows"] >= 3, observed  # the events, and the alert on the host
    assert observed["storeSize"].split()[-1] in ("KB", "MB"), observed["storeSize"]
    assert ["import admin-token", "90 minutes"] in observed["healthRows"], observed["healthRows"]
    assert observed["resultRows"] == 3
    # Every payload is on screen, literally.
    table = observed["resultsText"]
    assert "<b onclick=x>u</b>" in table or "onerror=alert('cmd')" in table, table
    details = "\n".join(observed["detailTexts"])
    for literal in ("cmd /c \"><img src=x onerror=alert('cmd')><script>alert('script')</script> javascript:alert('js')",
                    "C:\\<svg onload=alert(4)>", "<script>x()</script>", "javascript:alert(9)//",
                    "<b onclick=x>u</b>", '"><b>W</b>',
                    "C:\\Users\\Public\\\"><img src=x onerror=alert('evtx-file')>\\javascript:alert(7).7z"):
        assert literal in details, literal
    # The original record (the evtx crate's rendering) of the first row, as text.
    assert '"Event"' in observed["originalText"]
    assert "onerror=alert(" in observed["originalText"] and "javascript:alert(" in observed["originalText"]
    # Pivots on hostile values are quoted queries that find the event again.
    for pivot in observed["pivots"]:
        assert pivot["rows"] >= 1, pivot
    assert {pivot["field"] for pivot in observed["pivots"]} >= {"process.command_line", "host.name"}, observed["pivots"]
    # The alert detail shows the matched event's hostile fields as text.
    assert observed["alertTitle"] == "Markup in a process command line"
    assert "onerror=alert('cmd')" in observed["alertDrawerText"]
    assert "<b onclick=x>u</b>" in observed["alertDrawerText"] or '"><b>W</b>' in observed["alertDrawerText"]
    for name in ("evtx-01-results", "evtx-02-detail", "evtx-04-alert"):
        assert (shots / f"{name}.png").stat().st_size > 10_000, name


def test_rule_level_changed_in_the_browser(rules_server, tmp_path):
    server = rules_server
    add_users(server)
    status, listing = server.request("GET", "/api/v1/rules")
    rule = next(r for r in listing["rules"] if r["title"] == "Markup in a process command line")
    assert rule["level"] == rule["original_level"] == "high"

    shots = Path(os.environ.get("CONSOLE_SCREENSHOTS") or tmp_path / "screenshots")
    observed = run_browser("rules_level.test.mjs", server, shots, {
        "analyst": "ana", "analystPassword": PASSWORDS["ana"],
        "viewer": "vic", "viewerPassword": PASSWORDS["vic"],
        "rule": "Markup in a process command line", "level": "critical",
    })
    assert observed["dialogs"] == []
    assert observed["selectedBefore"] == "high"
    assert observed["selectedAfter"] == "critical"
    assert observed["overriddenClass"] is True
    # The viewer sees the level, not the control.
    assert observed["viewerLevelSelects"] == 0
    # (In Italian: the override and the rule file's own level.)
    assert "Critico" in observed["viewerRuleRow"] and "Alto" in observed["viewerRuleRow"], observed["viewerRuleRow"]
    assert observed["viewerForcedLevel"] == 403
    assert "null" not in observed["viewerPageText"], observed["viewerPageText"]

    # The API agrees, and the audit log names the analyst.
    status, listing = server.request("GET", "/api/v1/rules")
    rule = next(r for r in listing["rules"] if r["title"] == "Markup in a process command line")
    assert (rule["level"], rule["original_level"]) == ("critical", "high"), rule
    status, audit = server.request("GET", "/api/v1/audit?limit=100")
    changes = [e for e in audit["entries"] if e["action"] == "api_call" and e["target"].endswith("/level")]
    assert changes and changes[0]["actor"] == "ana" and changes[0]["detail"]["status"] == 200, changes

    # The next matching event raises its alert at the new level (the detector swaps rules
    # between batches; send until the swapped one sees an event).
    event = {"@timestamp": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
             "winlog": {"channel": "Microsoft-Windows-Sysmon/Operational", "event_id": "1",
                        "event_data": {"CommandLine": "cmd /c \"><img src=x onerror=alert('cmd')>",
                                       "Image": "C:\\Windows\\System32\\cmd.exe"}}}
    deadline = time.time() + 60
    critical = {"total": 0}
    n = 0
    while critical["total"] == 0 and time.time() < deadline:
        n += 1
        event["host"] = {"name": f"ws-{n}"}
        status, body = server.request("POST", "/api/v1/ingest", json.dumps(event).encode(),
                                      headers={"Content-Type": "application/x-ndjson"})
        assert status == 200, body
        critical = wait_alerts(server, "status=&level=critical&limit=5", 1, timeout=3)
    assert critical["total"] >= 1, critical
    assert critical["hits"][0]["sentinella"]["alert"]["level"] == "critical"
