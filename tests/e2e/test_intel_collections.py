"""Configured TAXII collections between two Sentinella servers on loopback: the city SOC
publishes its phishing desk's indicators in a read-only collection the national CERT polls,
and gives the CERT a writable collection where it reports (and withdraws) indicators that the
city's blocklists pick up and drop."""

import hashlib
import json
import time
import urllib.parse

import pytest
import requests
from taxii2client.v21 import Server as TaxiiServer

from conftest import Server

PASSWORD = "cert-secret-passphrase"
BLOCKLIST_TOKEN = "blocklist-token-0123456789abcdef"
AMBER = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"

CITY = f"""
[intel]
retro_match_hours = 0
blocklist_tokens = ["{BLOCKLIST_TOKEN}"]

[[intel.collections]]
name = "phishing"
title = "City phishing"
description = "Phishing domains and URLs reported to the city's phishing desk"
sources = ["phish-desk"]
kinds = ["domain", "url"]
max_tlp = "amber"

[[intel.collections]]
name = "cert-reports"
title = "Reports from the CERT"
sources = ["National CERT"]
writable = true

[[intel.partners]]
name = "National CERT"
max_tlp = "amber+strict"
collections = ["phishing", "cert-reports"]
username = "cert"
password_sha256 = "{hashlib.sha256(PASSWORD.encode()).hexdigest()}"
"""


def add(server, values, source, tlp):
    query = urllib.parse.urlencode({"format": "plain", "source": source, "tlp": tlp})
    status, body = server.request("POST", f"/api/v1/intel/import?{query}", body="\n".join(values).encode(),
                                  headers={"Content-Type": "text/plain"})
    assert status == 200 and body["new"] == len(values), body


def known(server, value):
    status, body = server.request("GET", "/api/v1/intel/indicators?" + urllib.parse.urlencode({"value": value, "max_tlp": "red"}))
    assert status == 200, body
    return next((i for i in body["indicators"] if i["value"] == value), None)


def wait_until(check, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return True
        time.sleep(0.3)
    return False


def blocklist(server):
    status, body = server.request("GET", f"/api/v1/intel/blocklist/edl-domain?token={BLOCKLIST_TOKEN}", token=False)
    assert status == 200, body
    return (body or "").split()


@pytest.fixture
def city_and_cert(tmp_path):
    (tmp_path / "city.toml").write_text(CITY)
    city = Server(tmp_path / "city", tmp_path / "city.log", extra_args=["--config", str(tmp_path / "city.toml")]).start()
    add(city, ["login-city.example"], "phish-desk", "green")
    add(city, ["http://login-city.example/verify"], "phish-desk", "amber")
    add(city, ["strict-case.example"], "phish-desk", "amber+strict")
    add(city, ["c2.other-feed.example", "203.0.113.50"], "feodo", "clear")
    # The CERT finds the city's collections with its partner credentials, and polls one.
    root = TaxiiServer(f"{city.url}/taxii2/", user="cert", password=PASSWORD).api_roots[0]
    collections = {c.title: c for c in root.collections}
    assert sorted(collections) == ["City phishing", "Reports from the CERT"]
    (tmp_path / "cert.toml").write_text("\n".join([
        "[intel]", "retro_match_hours = 0", "[[intel.feeds]]", 'name = "City SOC"',
        f'collection_url = "{collections["City phishing"].url}"', 'username = "cert"', f'password = "{PASSWORD}"',
        "interval_secs = 1", "page_size = 1", ""]))
    cert = Server(tmp_path / "cert", tmp_path / "cert.log", extra_args=["--config", str(tmp_path / "cert.toml")]).start()
    yield city, cert, collections
    cert.stop()
    city.stop()


def test_a_partner_polls_only_the_collection_it_is_given(city_and_cert):
    city, cert, _ = city_and_cert
    for value in ("login-city.example", "http://login-city.example/verify"):
        assert wait_until(lambda: known(cert, value)), value
        assert known(cert, value)["sources"] == ["City SOC"]
    # Outside the collection (another source, another kind, above its TLP): never crosses.
    time.sleep(3)
    for value in ("c2.other-feed.example", "203.0.113.50", "strict-case.example"):
        assert known(cert, value) is None, value
    status, body = city.request("GET", "/api/v1/intel/share-preview")
    assert status == 200
    (cert_line,) = body["partners"]
    assert [c["summary"] for c in cert_line["collections"]] == [
        "2 indicators to National CERT in collection phishing",
        "0 indicators to National CERT in collection cert-reports",
    ]


def test_a_partner_reports_into_its_collection_and_withdraws_its_report(city_and_cert):
    city, _, collections = city_and_cert
    reports = collections["Reports from the CERT"]
    report = {
        "type": "indicator", "spec_version": "2.1", "id": "indicator--5b1d0c7e-9a3f-4e2b-8c61-0d9e8f7a6b5c",
        "created": "2024-06-01T00:00:00.000Z", "modified": "2024-06-01T00:00:00.000Z",
        "name": "sinkholed C2", "pattern": "[domain-name:value = 'sinkhole-me.cert-case.example']", "pattern_type": "stix",
        "valid_from": "2024-06-01T00:00:00Z", "object_marking_refs": [AMBER],
    }
    assert reports.add_objects(json.dumps({"objects": [report]})).success_count == 1
    assert "sinkhole-me.cert-case.example" in blocklist(city)
    assert known(city, "sinkhole-me.cert-case.example")["sources"] == ["National CERT"]
    # The read-only collection refuses it.
    response = requests.post(collections["City phishing"].objects_url, auth=("cert", PASSWORD), data=json.dumps({"objects": [report]}),
                             headers={"Accept": "application/taxii+json;version=2.1",
                                      "Content-Type": "application/taxii+json;version=2.1"}, timeout=60)
    assert response.status_code == 403
    # The CERT withdraws its report: gone from the city's blocklist at the next fetch.
    reports.delete_object(report["id"])
    assert "sinkhole-me.cert-case.example" not in blocklist(city)
    assert known(city, "sinkhole-me.cert-case.example")["withdrawn"] is True
    assert reports.get_object(report["id"])["objects"][0]["revoked"] is True
