"""Threat intelligence end to end: real feeds imported with `sentinella intel import`, exports
accepted by the OASIS `stix2` library and `stix2-validator`, live matching of ingested events,
retro-matching of stored events, token-protected blocklists and withdrawal."""

import json
import shutil
import subprocess
import time
import urllib.parse

import pytest
import stix2
from stix2validator import ValidationOptions, validate_file

from conftest import BIN, SHARED, Server

CTI = SHARED / "cti"
BLOCKLIST_TOKEN = "blocklist-token-0123456789abcdef"
NFT = shutil.which("nft") or "/usr/sbin/nft"


def run(*args, **kwargs):
    result = subprocess.run([BIN, *map(str, args)], capture_output=True, text=True, timeout=300, **kwargs)
    assert result.returncode == 0, result.stderr + result.stdout
    return result


def test_cli_imports_real_feeds_and_exports_valid_stix(tmp_path):
    data = tmp_path / "data"
    out = run("intel", "import", "--direct", "--data-dir", data, "--tlp", "green",
              # Lists of benign values; not dynamic-dns or url-shortener: bad subdomains live there.
              *[arg for name in ("rfc1918", "tranco10k", "public-dns-v4", "google", "empty-hashes")
                for arg in ("--warninglists", SHARED / "intel" / "warninglists" / name / "list.json")],
              CTI / "feeds" / "misp-feed-sample" / "feed",
              CTI / "feeds" / "abusech" / "feodotracker_ipblocklist_2021-02.csv",
              CTI / "feeds" / "abusech" / "urlhaus_tld_feed_2019-02.csv",
              CTI / "stix-documentation-examples" / "poisonivy.json",
              CTI / "stix-documentation-examples" / "apt1.json",
              CTI / "stix-examples" / "malicious-email-indicator-with-attachment.json",
              CTI / "attack" / "ics-attack" / "ics-attack-18.1.json").stdout
    # Feodo's 10.213.75.205 is RFC 1918: the warninglist suppresses it.
    assert "feodotracker_ipblocklist_2021-02.csv: 1 new, 0 merged, 0 pattern-only (kept, need correlation), 0 sightings, 1 suppressed" in out
    assert "malicious-email-indicator-with-attachment.json: 0 new, 0 merged, 2 pattern-only" in out
    # The example's one broken value is reported, not fatal.
    assert "`domain autuo.xicp.net`: not a domain name" in out

    bundle_path = tmp_path / "export.json"
    run("intel", "export", "--direct", "--data-dir", data, "--format", "stix", "--max-tlp", "amber+strict", "-o", bundle_path)
    bundle = stix2.parse(bundle_path.read_text(), allow_custom=False)
    indicators = [o for o in bundle.objects if o.type == "indicator"]
    assert len(indicators) > 100
    # TLP:GREEN as imported unmarked, TLP:CLEAR from the MISP events' tlp:white tags.
    assert {o.id for o in bundle.objects if o.type == "marking-definition"} == {
        "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb", "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"}
    results = validate_file(str(bundle_path), ValidationOptions(version="2.1", strict=True))
    assert results.is_valid, [str(e) for o in results.object_results for e in o.errors][:5]

    edl = run("intel", "export", "--direct", "--data-dir", data, "--format", "edl-ip").stdout.split()
    assert "192.16.238.101" in edl and "10.213.75.205" not in edl
    assert "223.166.0.0/15" in edl
    assert run("intel", "export", "--direct", "--data-dir", data, "--format", "edl-ip", "--max-tlp", "clear").stdout.count("192.16.238.101") == 0
    urls = run("intel", "export", "--direct", "--data-dir", data, "--format", "edl-url").stdout.split()
    assert "http://marconuenlist.ch/verif.accounts.docs.net/" in urls
    rpz = run("intel", "export", "--direct", "--data-dir", data, "--format", "rpz").stdout
    assert "\nwww.webserver.dynssl.com CNAME .\n" in rpz
    nft = run("intel", "export", "--direct", "--data-dir", data, "--format", "nft").stdout
    assert "set intel_ipv4" in nft and "192.16.238.101" in nft
    # The real tools accept them: nftables (syntax check, nothing applied) and BIND.
    (tmp_path / "intel.nft").write_text(nft)
    check = subprocess.run([NFT, "-c", "-f", str(tmp_path / "intel.nft")], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    (tmp_path / "intel.rpz").write_text(rpz)
    check = subprocess.run(["named-checkzone", "rpz.sentinella", str(tmp_path / "intel.rpz")], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    rules = run("intel", "export", "--direct", "--data-dir", data, "--format", "suricata").stdout
    assert 'alert ip [192.16.238.101] any <> any any (msg:"SENTINELLA intel ip 192.16.238.101' in rules


def test_bad_input_is_reported_not_fatal(tmp_path):
    data = tmp_path / "data"
    broken = tmp_path / "broken.json"
    broken.write_text('{"type": "bundle", "objects": [{"type": "indicator", "id": "indicator--1", "pattern": "[ipv4-addr:value = ]"}, 5]')
    result = subprocess.run([BIN, "intel", "import", "--direct", "--data-dir", data, broken, CTI / "stix-validator-examples" / "invalid_braces.json"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "invalid JSON" in result.stderr
    fixed = tmp_path / "partial.json"
    fixed.write_text(json.dumps({"type": "bundle", "objects": [
        {"type": "indicator", "id": "indicator--a", "pattern": "[ipv4-addr:value = ]", "pattern_type": "stix"},
        {"type": "indicator", "id": "indicator--b", "pattern": "[ipv4-addr:value = '198.51.100.9']", "pattern_type": "stix"},
        "not an object"]}))
    out = run("intel", "import", "--direct", "--data-dir", data, fixed).stdout
    assert "1 new" in out and "2 problems" in out, out
    hostile = tmp_path / "hostile.csv"
    hostile.write_bytes(b"\x00\xff" * 1000 + b"\n" + b"a" * 100_000 + b"\n198.51.100.10\n\"unterminated\n")
    out = run("intel", "import", "--direct", "--data-dir", data, "--format", "plain", hostile).stdout
    assert "1 new" in out and "problems" in out, out


@pytest.fixture
def intel_server(tmp_path):
    config = tmp_path / "sentinella.toml"
    config.write_text(f'[intel]\nblocklist_tokens = ["{BLOCKLIST_TOKEN}"]\nblocklist_max_tlp = "green"\nretro_match_hours = 24\n')
    srv = Server(tmp_path / "data", tmp_path / "server.log", extra_args=["--config", str(config)]).start()
    yield srv
    srv.stop()


def wait_alerts(server, q, expected, timeout=30):
    deadline = time.time() + timeout
    body = None
    while time.time() < deadline:
        status, body = server.request("GET", "/api/v1/alerts?" + urllib.parse.urlencode({"q": q, "limit": 10}))
        assert status == 200, body
        if body["total"] >= expected:
            return body
        time.sleep(0.2)
    return body


def import_via_server(server, path, *extra):
    return run("intel", "import", "--server", server.url, "--data-dir", server.data_dir, *extra, path).stdout


def test_feed_indicator_then_firewall_line_raises_an_alert(intel_server, tmp_path):
    server = intel_server
    out = import_via_server(server, CTI / "feeds" / "abusech" / "feodotracker_ipblocklist_2021-02.csv", "--tlp", "clear")
    assert "2 new" in out, out
    line = "CEF:0|Fortinet|FortiGate|7.0|13|traffic|3|src=10.1.2.3 dst=192.16.238.101 dpt=443 act=accept"
    subprocess.run(["logger", "-n", "127.0.0.1", "-P", str(server.syslog_port), "-T", "-t", "fw", line], check=True)
    body = wait_alerts(server, "threat.indicator.ip:192.16.238.101", 1)
    assert body["total"] == 1, body
    alert = body["hits"][0]
    assert alert["event"]["kind"] == "alert" and alert["rule"]["ruleset"] == "intel"
    assert alert["threat"]["indicator"]["marking"]["tlp"] == "CLEAR"
    assert alert["threat"]["indicator"]["provider"] == "feodotracker_ipblocklist_2021-02"
    assert alert["tags"] == ["Dridex"]
    assert alert["sentinella"]["alert"]["matched"]["fields"] == ["destination.ip"]


def test_new_indicator_retro_matches_a_stored_event(intel_server, tmp_path):
    server = intel_server
    status, body = server.request("POST", "/api/v1/ingest", [
        {"@timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "dns": {"question": {"name": "cdn.retro-evil.example"}},
         "host": {"name": "ws-12"}}])
    assert status == 200, body
    server.refresh()
    assert server.wait_total("host.name:ws-12", 1) == 1
    bundle = tmp_path / "new.json"
    bundle.write_text(json.dumps({"type": "bundle", "id": "bundle--1", "objects": [{
        "type": "indicator", "spec_version": "2.1", "id": "indicator--5d3a1b7c-6e1f-4c2a-9f0b-2a6d8e4c1f00",
        "created": "2024-01-01T00:00:00Z", "modified": "2024-01-01T00:00:00Z", "valid_from": "2024-01-01T00:00:00Z",
        "pattern": "[domain-name:value = 'cdn.retro-evil.example']", "pattern_type": "stix"}]}))
    out = import_via_server(server, bundle)
    assert "1 retro-match alerts" in out, out
    server.refresh()
    body = wait_alerts(server, "rule.ruleset:intel AND host.name:ws-12", 1)
    assert body["total"] == 1
    assert body["hits"][0]["sentinella"]["alert"]["retro"] is True


def test_blocklists_need_their_token_and_drop_withdrawn_values(intel_server, tmp_path):
    server = intel_server
    feed = tmp_path / "list.txt"
    feed.write_text("198.51.100.20\n198.51.100.21\nbad-domain.example\n")
    import_via_server(server, feed, "--tlp", "green")
    amber = tmp_path / "amber.txt"
    amber.write_text("198.51.100.99\n")
    import_via_server(server, amber, "--tlp", "amber")
    status, _ = server.request("GET", "/api/v1/intel/blocklist/edl-ip", token=False)
    assert status == 401
    status, _ = server.request("GET", "/api/v1/intel/blocklist/edl-ip?token=wrong-token-0123456789", token=False)
    assert status == 401
    status, body = server.request("GET", f"/api/v1/intel/blocklist/edl-ip?token={BLOCKLIST_TOKEN}", token=False)
    assert status == 200
    assert body.split() == ["198.51.100.20", "198.51.100.21"], body  # AMBER is above the blocklist clearance
    # Asking for more than the configured clearance does not widen it.
    status, body = server.request("GET", f"/api/v1/intel/blocklist/edl-ip?max_tlp=red&token={BLOCKLIST_TOKEN}", token=False)
    assert "198.51.100.99" not in body
    run("intel", "withdraw", "ip", "198.51.100.21", "--server", server.url, "--data-dir", server.data_dir)
    status, body = server.request("GET", "/api/v1/intel/blocklist/edl-ip",
                                  headers={"Authorization": f"Bearer {BLOCKLIST_TOKEN}"}, token=False)
    assert body.split() == ["198.51.100.20"]
    status, rpz = server.request("GET", f"/api/v1/intel/blocklist/rpz?token={BLOCKLIST_TOKEN}", token=False)
    assert "\nbad-domain.example CNAME .\n" in rpz
    # The admin API lists indicators, withdrawn ones flagged.
    status, body = server.request("GET", "/api/v1/intel/indicators?kind=ip&value=198.51.100.21")
    assert status == 200 and body["indicators"][0]["withdrawn"] is True


def test_list_feed_is_polled_from_its_url(tmp_path):
    import functools
    import http.server
    import threading

    feeds = tmp_path / "feeds"
    feeds.mkdir()
    (feeds / "ipblocklist.csv").write_bytes((CTI / "feeds" / "abusech" / "feodotracker_ipblocklist_2021-02.csv").read_bytes())
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(feeds))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    config = tmp_path / "sentinella.toml"
    config.write_text("\n".join([
        "[intel]",
        f'warninglists = ["{SHARED / "intel" / "warninglists" / "rfc1918" / "list.json"}"]',
        "[[intel.feeds]]", 'name = "abuse.ch Feodo Tracker"',
        f'url = "http://127.0.0.1:{httpd.server_address[1]}/ipblocklist.csv"',
        'format = "feodo"', 'default_tlp = "clear"', "interval_secs = 1", ""]))
    srv = Server(tmp_path / "data", tmp_path / "server.log", extra_args=["--config", str(config)]).start()
    try:
        deadline = time.time() + 60
        found = []
        while time.time() < deadline and not found:
            status, body = srv.request("GET", "/api/v1/intel/indicators?kind=ip")
            found = body["indicators"]
            time.sleep(0.3)
        assert [i["value"] for i in found] == ["192.16.238.101"], found  # 10.213.75.205 is RFC 1918
        assert found[0]["sources"] == ["abuse.ch Feodo Tracker"] and found[0]["tlp"] == "clear"
        assert found[0]["valid_until"], "list entries expire unless listed again"
    finally:
        srv.stop()
        httpd.shutdown()
