"""Two Sentinella servers on loopback, a city SOC and a national CERT, exchange indicators over
TAXII 2.1 both ways: each polls the other's collection (`added_after`, pagination) with its own
partner credentials, and TLP clearance decides what crosses."""

import hashlib
import time
import urllib.parse

import pytest

from conftest import Server

PASSWORD = {"city": "city-secret-passphrase", "cert": "cert-secret-passphrase"}


def collection_id():
    # The server derives collection ids deterministically (intel::derived_id, UUIDv4 layout).
    namespace = bytes([0x00, 0xab, 0xed, 0xb4, 0xaa, 0x42, 0x46, 0x6c, 0x9c, 0x01, 0xfe, 0xd2, 0x33, 0x15, 0xa9, 0xb7])
    d = bytearray(hashlib.sha1(namespace + b"taxii-collection:indicators").digest()[:16])
    d[6] = (d[6] & 0x0F) | 0x40
    d[8] = (d[8] & 0x3F) | 0x80
    h = d.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def config(partner_user, partner_name, partner_tlp, peer, peer_name, my_user):
    return "\n".join([
        "[intel]",
        "retro_match_hours = 0",
        "[[intel.partners]]",
        f'name = "{partner_name}"', f'max_tlp = "{partner_tlp}"', 'collections = ["indicators"]',
        f'username = "{partner_user}"',
        f'password_sha256 = "{hashlib.sha256(PASSWORD[partner_user].encode()).hexdigest()}"',
        "[[intel.feeds]]",
        f'name = "{peer_name}"',
        f'collection_url = "{peer.url}/taxii2/sentinella/collections/{collection_id()}/"',
        f'username = "{my_user}"', f'password = "{PASSWORD[my_user]}"',
        "interval_secs = 1", "page_size = 2", "",
    ])


@pytest.fixture
def pair(tmp_path):
    city = Server(tmp_path / "city", tmp_path / "city.log")
    cert = Server(tmp_path / "cert", tmp_path / "cert.log")
    # The CERT is cleared up to AMBER at the city; the city up to GREEN at the CERT.
    (tmp_path / "city.toml").write_text(config("cert", "National CERT", "amber", cert, "National CERT", "city"))
    (tmp_path / "cert.toml").write_text(config("city", "City SOC", "green", city, "City SOC", "cert"))
    city.extra_args = ["--config", str(tmp_path / "city.toml")]
    cert.extra_args = ["--config", str(tmp_path / "cert.toml")]
    city.start()
    cert.start()
    yield city, cert
    city.stop()
    cert.stop()


def add(server, values, tlp):
    query = urllib.parse.urlencode({"format": "plain", "source": "local", "tlp": tlp})
    status, body = server.request("POST", f"/api/v1/intel/import?{query}", body="\n".join(values).encode(),
                                  headers={"Content-Type": "text/plain"})
    assert status == 200 and body["new"] == len(values), body


def indicator(server, value):
    status, body = server.request("GET", "/api/v1/intel/indicators?" + urllib.parse.urlencode({"value": value, "max_tlp": "red"}))
    assert status == 200, body
    return next((i for i in body["indicators"] if i["value"] == value), None)


def wait_for(server, value, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = indicator(server, value)
        if found:
            return found
        time.sleep(0.3)
    return None


def test_city_soc_and_cert_exchange_indicators_both_ways(pair):
    city, cert = pair
    add(city, ["203.0.113.10", "203.0.113.11", "203.0.113.12"], "green")  # three pages of two... and one
    add(city, ["phish-kit.city-case.example"], "amber")
    add(city, ["203.0.113.66"], "amber+strict")
    add(cert, ["198.51.100.200", "national-campaign.example"], "green")
    add(cert, ["198.51.100.201"], "amber")

    # City → CERT: everything up to AMBER, credited to the city.
    for value in ["203.0.113.10", "203.0.113.11", "203.0.113.12", "phish-kit.city-case.example"]:
        found = wait_for(cert, value)
        assert found, value
        assert "City SOC" in found["sources"]
    assert wait_for(cert, "phish-kit.city-case.example")["tlp"] == "amber"
    # CERT → city: only up to GREEN.
    for value in ["198.51.100.200", "national-campaign.example"]:
        found = wait_for(city, value)
        assert found and "National CERT" in found["sources"], value
    # A later addition arrives too (incremental polling from the saved added_after).
    add(city, ["203.0.113.13"], "clear")
    assert wait_for(cert, "203.0.113.13")
    # Withheld by clearance: never crosses, however long we wait for the polls.
    time.sleep(3)
    assert indicator(cert, "203.0.113.66") is None
    assert indicator(city, "198.51.100.201") is None
    assert (cert.data_dir / "intel" / "feeds-state.json").exists()

    # The city sees the CERT's indicator in its traffic: an alert locally, and a STIX
    # sighting shared back to the CERT (the indicator's source) over TAXII.
    status, body = city.request("POST", "/api/v1/ingest", [
        {"@timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
         "source": {"ip": "10.20.30.40"}, "destination": {"ip": "198.51.100.200"}, "host": {"name": "fw-city"}}])
    assert status == 200, body
    deadline = time.time() + 60
    found = None
    while time.time() < deadline:
        found = indicator(cert, "198.51.100.200")
        if found.get("sightings", 0) >= 1:
            break
        time.sleep(0.5)
    assert found.get("sightings", 0) == 1, found
    assert indicator(city, "198.51.100.200")["sightings"] == 1


def test_withdrawal_travels_to_partners_as_a_revoked_version(pair):
    city, cert = pair
    add(city, ["203.0.113.77", "203.0.113.78"], "green")
    assert wait_for(cert, "203.0.113.77") and wait_for(cert, "203.0.113.78")
    status, body = city.request("POST", "/api/v1/intel/withdraw", {"kind": "ip", "value": "203.0.113.77"})
    assert status == 200, body
    deadline = time.time() + 60
    while time.time() < deadline and not indicator(cert, "203.0.113.77").get("withdrawn"):
        time.sleep(0.3)
    assert indicator(cert, "203.0.113.77").get("withdrawn") is True
    assert not indicator(cert, "203.0.113.78").get("withdrawn")
