"""Helpers the detection e2e tests share: a server started with rules, events posted to it,
alerts waited for, and the failed-logon correlation they all exercise."""

import subprocess
import time

from conftest import BIN, Server


def rules_dir(tmp_path, **files):
    """A fresh `tmp_path/rules` holding `files` (file name without `.yml` -> rule text)."""
    rules = tmp_path / "rules"
    rules.mkdir()
    for name, text in files.items():
        (rules / f"{name}.yml").write_text(text)
    return rules


def start_with_rules(tmp_path, rules):
    """A started server evaluating the rules at `rules` (a file or a directory)."""
    return Server(tmp_path / "data", tmp_path / "server.log", extra_args=["--rules", str(rules)]).start()


def ingest(server, *events):
    status, body = server.request("POST", "/api/v1/ingest", list(events))
    assert status == 200, body


def wait_alerts(server, q, expected, timeout=60):
    """The alerts matching `q` once there are `expected` of them (or the last answer at the timeout)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        status, body = server.request("GET", f"/api/v1/alerts?q={q}&limit=10")
        assert status == 200, body
        if body["total"] >= expected:
            return body
        time.sleep(0.3)
    return body


def cli(server, *args, check=True, timeout=900):
    """`sentinella ARGS` as a client of `server`."""
    result = subprocess.run([BIN, *map(str, args), "--data-dir", str(server.data_dir), "--server", server.url],
                            capture_output=True, timeout=timeout)
    if check:
        assert result.returncode == 0, result.stderr.decode(errors="replace")[-3000:]
    return result


def correlated_rules(id_prefix, name, generate=True):
    """A failed-logon rule (`<id_prefix>-...-0001`, named `name`) and an event_count
    correlation over it (`<id_prefix>-...-0002`): three failures of one user in ten minutes.
    Each test file uses its own ids so that a failure names the test that raised it."""
    generate_line = "" if generate else "  generate: false\n"
    return f"""title: Failed logon
id: {id_prefix}-0000-0000-0000-000000000001
name: {name}
logsource: {{product: windows, service: security}}
detection:
  selection:
    EventID: 4625
  condition: selection
level: low
---
title: Many failed logons for one user
id: {id_prefix}-0000-0000-0000-000000000002
correlation:
  type: event_count
  rules: [{name}]
  group-by: [TargetUserName]
  timespan: 10m
  condition: {{gte: 3}}
{generate_line}level: high
"""


def failed_logon(ts, user):
    return {"@timestamp": ts, "host": {"name": "dc-1"},
            "winlog": {"channel": "Security", "event_id": "4625", "event_data": {"TargetUserName": user}}}
