"""Exports and blocklists are streamed from the server a batch of indicators at a time
(several batches here): what the real tools read of them — `nft -c`, `named-checkzone`,
the OASIS `stix2-validator` — still accepts them whole, nothing selected is missing or
repeated across batches, and TLP still decides what goes in."""

import ipaddress
import json
import shutil
import subprocess
import urllib.parse
import urllib.request

import pytest
import stix2
from stix2validator import ValidationOptions, validate_file

from conftest import Server

NFT = shutil.which("nft") or "/usr/sbin/nft"
TOKEN = "stream-blocklist-token-0123456789"
# Three export batches (of 4,096 indicators).
N_V4, N_V6, N_DOMAINS = 5_000, 500, 3_000


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("stream")
    config = tmp / "sentinella.toml"
    config.write_text(f'[intel]\nblocklist_tokens = ["{TOKEN}"]\nblocklist_max_tlp = "green"\nretro_match_hours = 0\n')
    srv = Server(tmp / "data", tmp / "server.log", extra_args=["--config", str(config)]).start()
    base = int(ipaddress.IPv4Address("10.0.0.0"))
    feeds = {
        ("v4", "green"): [str(ipaddress.IPv4Address(base + 7 * i)) for i in range(N_V4)],
        ("v6", "green"): [f"2001:db8::{i:x}" for i in range(N_V6)],
        ("domains", "green"): [f"host{i}.stream.example" for i in range(N_DOMAINS)],
        # Above what devices are cleared for: never in a blocklist.
        ("amber", "amber"): ["192.0.2.77", "withheld.stream.example"],
    }
    for (name, tlp), values in feeds.items():
        status, body = srv.request("POST", "/api/v1/intel/import?" + urllib.parse.urlencode({"format": "plain", "source": name, "tlp": tlp}),
                                   body="\n".join(values).encode(), headers={"Content-Type": "text/plain"})
        assert status == 200 and body["new"] == len(values), body
    srv.feeds = feeds
    yield srv
    srv.stop()


def fetch(srv, path):
    req = urllib.request.Request(srv.url + path, headers={"Authorization": f"Bearer {srv.token}"})
    with urllib.request.urlopen(req, timeout=120) as resp:
        return resp.headers, resp.read().decode()


def test_blocklists_are_whole_and_accepted_by_the_tools(server, tmp_path):
    feeds = server.feeds
    expected_ips = feeds[("v4", "green")] + feeds[("v6", "green")]
    headers, edl = fetch(server, f"/api/v1/intel/blocklist/edl-ip?token={TOKEN}")
    lines = edl.split()
    assert len(lines) == len(set(lines)) == len(expected_ips)
    assert set(lines) == {str(ipaddress.ip_address(v)) for v in expected_ips}
    assert int(headers["x-sentinella-count"]) == len(expected_ips) + N_DOMAINS
    _, domains = fetch(server, f"/api/v1/intel/blocklist/edl-domain?token={TOKEN}")
    assert sorted(domains.split()) == sorted(feeds[("domains", "green")])

    _, nft = fetch(server, f"/api/v1/intel/blocklist/nft?token={TOKEN}")
    (tmp_path / "intel.nft").write_text(nft)
    check = subprocess.run([NFT, "-c", "-f", str(tmp_path / "intel.nft")], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr[:2000]
    assert nft.count("add element inet sentinella intel_ipv4") >= 2  # several batches
    assert "192.0.2.77" not in nft and "10.0.0.7," in nft

    _, rpz = fetch(server, f"/api/v1/intel/blocklist/rpz?token={TOKEN}")
    (tmp_path / "intel.rpz").write_text(rpz)
    check = subprocess.run(["named-checkzone", "rpz.sentinella", str(tmp_path / "intel.rpz")], capture_output=True, text=True)
    assert check.returncode == 0, (check.stdout + check.stderr)[:2000]
    records = [line.split()[0] for line in rpz.splitlines() if line.endswith("CNAME .")]
    assert sorted(records) == sorted(feeds[("domains", "green")])

    _, rules = fetch(server, f"/api/v1/intel/blocklist/suricata?token={TOKEN}")
    sids = [line.split("sid:")[1].split(";")[0] for line in rules.splitlines() if line.startswith("alert")]
    assert len(sids) == len(set(sids)) == len(expected_ips) + N_DOMAINS
    assert "withheld.stream.example" not in rules


def test_the_streamed_stix_bundle_is_valid_and_complete(server, tmp_path):
    headers, text = fetch(server, "/api/v1/intel/export/stix?max_tlp=amber")
    path = tmp_path / "bundle.json"
    path.write_text(text)
    bundle = json.loads(text)
    indicators = [o for o in bundle["objects"] if o["type"] == "indicator"]
    total = sum(len(v) for v in server.feeds.values())
    assert len(indicators) == len({o["id"] for o in indicators}) == total == int(headers["x-sentinella-count"])
    markings = {o["id"] for o in bundle["objects"] if o["type"] == "marking-definition"}
    assert markings == {o["object_marking_refs"][0] for o in indicators} and len(markings) == 2
    stix2.parse(text, allow_custom=True)
    results = validate_file(str(path), ValidationOptions(version="2.1", strict=True))
    assert results.is_valid, [str(e) for o in results.object_results for e in o.errors][:5]
    # The caller's clearance cuts the stream too.
    _, green = fetch(server, "/api/v1/intel/export/stix?max_tlp=green")
    assert "192.0.2.77" not in green and len(json.loads(green)["objects"]) == total - 2 + 1
