"""Rules management: `GET /api/v1/rules`, enable/disable (persisted), hot reload of the
rules directory; a bad rule rejects itself and never the others."""

import subprocess
import time

import helpers
from conftest import BIN, Server
from helpers import ingest

WHOAMI = """title: Whoami run
id: eeeeeeee-0000-0000-0000-000000000001
status: test
level: high
logsource: {product: windows, category: process_creation}
detection:
  selection:
    Image|endswith: '\\\\whoami.exe'
  condition: selection
"""

NET = """title: Net run
id: eeeeeeee-0000-0000-0000-000000000002
status: experimental
level: medium
logsource: {product: windows, category: process_creation}
detection:
  selection:
    Image|endswith: '\\\\net.exe'
  condition: selection
"""


def process(image, host, ts="2024-05-01T10:00:00Z"):
    return {"@timestamp": ts, "host": {"name": host},
            "winlog": {"channel": "Microsoft-Windows-Sysmon/Operational", "event_id": "1",
                       "event_data": {"Image": image}}}


def rules(server):
    status, body = server.request("GET", "/api/v1/rules")
    assert status == 200, body
    return body


def wait_rules(server, predicate, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        body = rules(server)
        if predicate(body):
            return body
        time.sleep(0.3)
    raise AssertionError(f"rules never reached the expected state: {body}")


def alerts(server, rule_id, expected=None, timeout=60):
    """The alert count of a rule, once it reaches `expected` (or right away)."""
    deadline = time.time() + timeout
    while True:
        server.refresh()
        status, body = server.request("GET", f"/api/v1/alerts?q=rule.id:{rule_id}&limit=0")
        assert status == 200, body
        if expected is None or body["total"] >= expected or time.time() > deadline:
            return body["total"]
        time.sleep(0.3)


def test_rules_are_listed_reloaded_switched_and_rejected_alone(tmp_path):
    rules_dir = helpers.rules_dir(tmp_path, whoami=WHOAMI)
    server = helpers.start_with_rules(tmp_path, rules_dir)
    try:
        body = rules(server)
        assert body["generation"] == 1 and body["rejected"] == []
        [whoami] = body["rules"]
        assert whoami == {"id": "eeeeeeee-0000-0000-0000-000000000001", "title": "Whoami run",
                          "level": "high", "original_level": "high", "status": "test", "kind": "detection",
                          "enabled": True,
                          "path": str(rules_dir / "whoami.yml")}

        # Hot reload: a new file is picked up without a restart.
        (rules_dir / "net.yml").write_text(NET)
        wait_rules(server, lambda b: b["loaded"] == 2)
        ingest(server, process("C:\\Windows\\net.exe", "ws-1"))
        assert alerts(server, "eeeeeeee-0000-0000-0000-000000000002", 1) == 1

        # A broken file is rejected with its reason; the other rules keep working.
        (rules_dir / "broken.yml").write_text("title: Broken\nlogsource: {product: windows}\ndetection:\n  sel: {Image|nosuchmodifier: x}\n  condition: sel\n")
        body = wait_rules(server, lambda b: b["rejected"])
        assert body["loaded"] == 2
        [rejected] = body["rejected"]
        assert rejected["path"].endswith("broken.yml") and "nosuchmodifier" in rejected["reason"]
        ingest(server, process("C:\\Windows\\whoami.exe", "ws-2"))
        assert alerts(server, "eeeeeeee-0000-0000-0000-000000000001", 1) == 1

        # Disabled: whoami no longer alerts; net, in the same batch, still does.
        status, body = server.request("POST", "/api/v1/rules/eeeeeeee-0000-0000-0000-000000000001/disable")
        assert status == 200 and body["enabled"] is False, body
        ingest(server, process("C:\\Windows\\whoami.exe", "ws-3"), process("C:\\Windows\\net.exe", "ws-3"))
        assert alerts(server, "eeeeeeee-0000-0000-0000-000000000002", 2) == 2
        assert alerts(server, "eeeeeeee-0000-0000-0000-000000000001") == 1

        status, body = server.request("POST", "/api/v1/rules/no-such-rule/disable")
        assert status == 404, body
        assert server.request("GET", "/api/v1/rules", token=False)[0] == 401
        assert server.request("POST", "/api/v1/rules/eeeeeeee-0000-0000-0000-000000000002/disable",
                              token=False)[0] == 401

        # The switch survives a restart; enabling brings the rule back.
        server.stop()
        server.start()
        body = rules(server)
        state = {r["title"]: r["enabled"] for r in body["rules"]}
        assert state == {"Whoami run": False, "Net run": True}
        status, _ = server.request("POST", "/api/v1/rules/eeeeeeee-0000-0000-0000-000000000001/enable")
        assert status == 200
        ingest(server, process("C:\\Windows\\whoami.exe", "ws-4"))
        assert alerts(server, "eeeeeeee-0000-0000-0000-000000000001", 2) == 2

        # Hunts use the enabled rules by default, or the ones named.
        status, body = server.request("POST", "/api/v1/hunt", {"since": "2024-01-01T00:00:00Z"})
        assert status == 200, body
        assert {r["rule_id"]: r["events"] for r in body["by_rule"]} == {
            "eeeeeeee-0000-0000-0000-000000000001": 3, "eeeeeeee-0000-0000-0000-000000000002": 2}
        status, body = server.request("POST", "/api/v1/hunt",
                                      {"rule_ids": ["eeeeeeee-0000-0000-0000-000000000002", "not-loaded"]})
        assert status == 200 and [r["rule_id"] for r in body["by_rule"]] == ["eeeeeeee-0000-0000-0000-000000000002"]
        assert [r["path"] for r in body["rejected"]] == ["not-loaded"]
        # A switched-off rule can still be hunted with by name: that is how one tries it.
        status, _ = server.request("POST", "/api/v1/rules/eeeeeeee-0000-0000-0000-000000000002/disable")
        status, body = server.request("POST", "/api/v1/hunt", {"since": "2024-01-01T00:00:00Z"})
        assert [r["rule_id"] for r in body["by_rule"]] == ["eeeeeeee-0000-0000-0000-000000000001"]
        status, body = server.request("POST", "/api/v1/hunt", {"rule_ids": ["eeeeeeee-0000-0000-0000-000000000002"]})
        assert status == 200 and body["by_rule"][0]["events"] == 2
        server.request("POST", "/api/v1/rules/eeeeeeee-0000-0000-0000-000000000002/enable")
        assert body["rules"] == 1 and all(a["sentinella"]["alert"]["origin"] == "hunt" for a in body["alerts"])

        # The same through the command line.
        cli = ["--data-dir", str(server.data_dir), "--server", server.url]
        table = subprocess.run([BIN, "rules", "list", *cli], capture_output=True, text=True, check=True).stdout
        assert "Whoami run" in table and "Net run" in table and "rejected" in table and "broken.yml" in table
        subprocess.run([BIN, "rules", "disable", "eeeeeeee-0000-0000-0000-000000000002", *cli], check=True,
                       capture_output=True)
        assert {r["title"]: r["enabled"] for r in rules(server)["rules"]}["Net run"] is False
        assert subprocess.run([BIN, "rules", "enable", "nope", *cli], capture_output=True).returncode != 0

        # Removing a file unloads its rule.
        (rules_dir / "net.yml").unlink()
        wait_rules(server, lambda b: b["loaded"] == 1)
    finally:
        server.stop()


WHOAMI_ID = "eeeeeeee-0000-0000-0000-000000000001"


def alert_levels(server, expected, timeout=60):
    """The levels of the rule's alerts by host, once there are `expected` of them."""
    deadline = time.time() + timeout
    while True:
        server.refresh()
        status, body = server.request("GET", f"/api/v1/alerts?q=rule.id:{WHOAMI_ID}&limit=100")
        assert status == 200, body
        if body["total"] >= expected or time.time() > deadline:
            return {hit["host"]["name"]: hit["sentinella"]["alert"]["level"] for hit in body["hits"]}
        time.sleep(0.3)


def test_a_level_override_reaches_new_alerts_and_survives_a_restart(tmp_path):
    rules_dir = helpers.rules_dir(tmp_path, whoami=WHOAMI)
    server = helpers.start_with_rules(tmp_path, rules_dir)
    level_path = f"/api/v1/rules/{WHOAMI_ID}/level"
    try:
        ingest(server, process("C:\\Windows\\whoami.exe", "ws-1"))
        assert alert_levels(server, 1) == {"ws-1": "high"}

        status, body = server.request("POST", level_path, {"level": "critical"})
        assert status == 200 and body == {"id": WHOAMI_ID, "level": "critical"}, body
        [rule] = rules(server)["rules"]
        assert (rule["level"], rule["original_level"]) == ("critical", "high")
        # New alerts carry the override; the old one keeps what it was raised with.
        ingest(server, process("C:\\Windows\\whoami.exe", "ws-2"))
        assert alert_levels(server, 2) == {"ws-1": "high", "ws-2": "critical"}
        # Hunts too.
        status, body = server.request("POST", "/api/v1/hunt", {"since": "2024-01-01T00:00:00Z"})
        assert status == 200, body
        assert {a["sentinella"]["alert"]["level"] for a in body["alerts"]} == {"critical"}, body

        # Not a level, no level at all (a typo never clears), not a string.
        for bad, expected in [({"level": "severe"}, 400), ({}, 400), ({"level": 3}, 422)]:
            assert server.request("POST", level_path, bad)[0] == expected, bad
        assert server.request("POST", "/api/v1/rules/no-such-rule/level", {"level": "low"})[0] == 404
        assert server.request("POST", level_path, {"level": "low"}, token=False)[0] == 401

        # The override survives a restart.
        server.stop()
        server.start()
        [rule] = rules(server)["rules"]
        assert (rule["level"], rule["original_level"]) == ("critical", "high")
        ingest(server, process("C:\\Windows\\whoami.exe", "ws-3"))
        assert alert_levels(server, 3)["ws-3"] == "critical"

        # Cleared: back to the rule file's level.
        status, body = server.request("POST", level_path, {"level": None})
        assert status == 200 and body["level"] is None, body
        assert rules(server)["rules"][0]["level"] == "high"
        ingest(server, process("C:\\Windows\\whoami.exe", "ws-4"))
        assert alert_levels(server, 4)["ws-4"] == "high"

        # Every successful change is in the audit log.
        status, audit = server.request("GET", "/api/v1/audit?limit=200")
        assert status == 200, audit
        changes = [e for e in audit["entries"] if e["action"] == "api_call" and e["target"] == level_path
                   and e["detail"]["status"] == 200]
        assert len(changes) == 2, changes
    finally:
        server.stop()


def test_without_configured_rules_the_data_dir_rules_folder_is_watched(tmp_path):
    data = tmp_path / "data"
    server = Server(data, tmp_path / "server.log").start()
    try:
        body = rules(server)
        assert body["loaded"] == 0 and body["rules"] == [], body
        assert (data / "rules").is_dir()
        # A rule dropped into DATA_DIR/rules detects without a restart.
        (data / "rules" / "whoami.yml").write_text(WHOAMI)
        wait_rules(server, lambda b: b["loaded"] == 1)
        ingest(server, process("C:\\Windows\\whoami.exe", "ws-default"))
        assert alerts(server, "eeeeeeee-0000-0000-0000-000000000001", 1) == 1
    finally:
        server.stop()
