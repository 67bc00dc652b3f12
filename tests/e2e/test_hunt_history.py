"""Hunting over history: `POST /api/v1/hunt` and `sentinella hunt --since` run the same
compiled rules over stored events and give the alerts live detection would have."""

import subprocess
from collections import Counter

import pytest

from conftest import BIN, SHARED, Server
from helpers import cli, correlated_rules, failed_logon, ingest
from test_hunt import REGRESSION, jsonl, regression_cases, rule_args

WINDOWS_RULES = SHARED / "sigma" / "rules" / "windows"

pytestmark = pytest.mark.skipif(not REGRESSION.is_dir(), reason=f"{REGRESSION} not found")


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """A server WITHOUT rules that has stored every regression case's EVTX."""
    tmp = tmp_path_factory.mktemp("history")
    server = Server(tmp / "data", tmp / "server.log").start()
    cases = regression_cases()
    cli(server, "import", *[evtx for *_, evtx in cases])
    server.refresh()
    yield server, cases
    server.stop()


def test_history_hunt_equals_the_file_hunt_and_the_expected_counts(history):
    server, cases = history
    assert server.search("event.kind:alert", limit=0)["total"] == 0  # no live rules
    evtx = [evtx for *_, evtx in cases]
    files = jsonl(subprocess.run([BIN, "hunt", *rule_args(), "--format", "jsonl", *evtx],
                                 capture_output=True, check=True, timeout=900).stdout)
    by_file = Counter((d["rule_id"], d["file"]) for d in files)
    file_counts = Counter(d["rule_id"] for d in files)

    result = cli(server, "hunt", "--since", "2000-01-01T00:00:00Z", *rule_args(),
                 "--format", "jsonl", "--limit", "10000")
    alerts = jsonl(result.stdout)
    assert alerts and all(a["alert"]["sentinella"]["alert"]["origin"] == "hunt" for a in alerts)
    assert all(a["alert"]["event"]["kind"] == "alert" and a["event"]["winlog"] for a in alerts)
    # Duplicates merged into an alert are counted by it: events per rule equal the file hunt's.
    history_counts = Counter()
    for a in alerts:
        history_counts[a["rule_id"]] += a["count"]
    assert history_counts == file_counts
    # And per regression case, the expected number of matches (where the file hunt,
    # checked against info.yml by test_hunt, attributes all the rule's matches to it).
    exact, compared = 0, 0
    for case, rule_id, expected, path in cases:
        if expected is None or by_file[(rule_id, str(path))] != file_counts[rule_id]:
            continue
        compared += 1
        exact += history_counts[rule_id] == expected
    print(f"history hunt: {exact} of {compared} regression cases give exactly match_count "
          f"({len(cases) - compared} cases' rules also match other cases' events)")
    assert compared > 120 and exact >= compared - 4  # the 4 known data issues of test_hunt
    assert "stored events" in result.stderr.decode()


def test_api_hunt_inline_rule_time_range_query_and_store(history):
    server, cases = history
    case, rule_id, expected, evtx = next(c for c in cases if c[0].endswith("proc_creation_win_curl_custom_user_agent"))
    rule_file = next(WINDOWS_RULES.rglob("proc_creation_win_curl_custom_user_agent.yml"))
    body = {"since": "3650d", "sigma": [rule_file.read_text()]}
    status, answer = server.request("POST", "/api/v1/hunt", body)
    assert status == 200, answer
    assert answer["alerts_total"] == 1 and answer["by_rule"][0]["rule_id"] == rule_id
    assert answer["events"] > 100 and answer["rules"] == 1
    ts = answer["alerts"][0]["@timestamp"]
    # The time range and the query narrow the events hunted.
    status, later = server.request("POST", "/api/v1/hunt", {**body, "since": "2099-01-01T00:00:00Z"})
    assert status == 200 and later["events"] == 0 and later["alerts_total"] == 0
    status, narrowed = server.request("POST", "/api/v1/hunt", {**body, "query": "process.name:curl.exe"})
    assert status == 200 and narrowed["alerts_total"] == 1 and narrowed["events"] < answer["events"]
    # Stored on request, then listed as alerts with their origin.
    status, stored = server.request("POST", "/api/v1/hunt", {**body, "store": True})
    assert status == 200 and stored["stored"] == 1
    server.refresh()
    status, listed = server.request("GET", f"/api/v1/alerts?q=rule.id:{rule_id}")
    assert status == 200 and listed["total"] == 1, listed
    assert listed["hits"][0]["sentinella"]["alert"]["origin"] == "hunt"
    assert listed["hits"][0]["@timestamp"] == ts
    # A stored alert is never hunted again.
    status, again = server.request("POST", "/api/v1/hunt", body)
    assert again["events"] == answer["events"] and again["alerts_total"] == 1


def test_api_hunt_rejects_bad_requests_and_reports_bad_rules(history):
    server, _ = history
    assert server.request("POST", "/api/v1/hunt", {"since": "30d", "sigma": ["x"]}, token=False)[0] == 401
    status, body = server.request("POST", "/api/v1/hunt", {"since": "yesterday", "sigma": ["x"]})
    assert status == 400 and "invalid time" in body["error"]["message"]
    status, body = server.request("POST", "/api/v1/hunt", {"since": "30d", "no_such_key": 1})
    assert status == 400
    # No loaded rule on this server, and the inline one does not load: nothing to hunt with.
    status, body = server.request("POST", "/api/v1/hunt", {"sigma": ["title: [broken"]})
    assert status == 400, body
    good = "title: any 4688\nlogsource: {product: windows}\ndetection: {sel: {EventID: 4688}, condition: sel}\n"
    status, body = server.request("POST", "/api/v1/hunt", {"sigma": [good, "title: [broken"]})
    assert status == 200 and len(body["rejected"]) == 1 and body["rejected"][0]["reason"]
    # Files still need --rules; history hunts talk to the server.
    result = subprocess.run([BIN, "hunt", "--since", "30d", "/nonexistent.evtx"], capture_output=True)
    assert result.returncode != 0


CORRELATED = correlated_rules("bbbbbbbb", "failed_logon_h")


def test_correlations_over_history_see_events_in_time_order(tmp_path):
    server = Server(tmp_path / "data", tmp_path / "server.log").start()
    try:
        # Ingested out of order: a live correlator sees 10:30 first and drops the older
        # three as late; in time order they are three within ten minutes.
        for ts in ("2024-05-01T10:30:00Z", "2024-05-01T10:00:00Z", "2024-05-01T10:05:00Z",
                   "2024-05-01T10:09:00Z"):
            ingest(server, failed_logon(ts, "bob"))
        status, body = server.request("POST", "/api/v1/hunt", {"sigma": [CORRELATED]})
        assert status == 200, body
        correlations = [a for a in body["alerts"] if a["rule"]["id"].endswith("0002")]
        assert len(correlations) == 1, body["alerts"]
        assert correlations[0]["sentinella"]["alert"]["correlation"]["count"] == 3
        assert correlations[0]["sentinella"]["alert"]["correlation"]["first"].startswith("2024-05-01T10:00")
    finally:
        server.stop()
