"""The TAXII 2.1 server with the OASIS `taxii2-client`: discovery, configured collections,
objects with pagination and filters, manifests, versions, writes with status, deletes of a
partner's own objects; and a matrix over the five TLP levels, partner clearances and two
collections proving nothing leaks on any read path."""

import base64
import hashlib
import json
import subprocess
import urllib.parse

import pytest
import requests
from taxii2client.v21 import ApiRoot, Collection, Server as TaxiiServer, as_pages

from conftest import BIN, Server as Sentinella

LEVELS = ["clear", "green", "amber", "amber+strict", "red"]
TLP_IDS = {
    "clear": "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    "green": "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    "amber": "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    "amber+strict": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    "red": "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}
PASSWORD = "correct horse battery staple"
BLOCKLIST_TOKEN = "blocklist-token-0123456789abcdef"
MEDIA_TYPE = "application/taxii+json;version=2.1"
# Three collections: everything (writable); the feeds' IPs up to AMBER (read-only; it holds
# 198.51.100.1 CLEAR and .3 AMBER: .2 GREEN is from another feed, .4 and .5 are above
# AMBER); and partner reports, domains and URLs only, which partners write (writable).
COLLECTIONS = """
[intel]
blocklist_tokens = ["%s"]

[[intel.collections]]
name = "indicators"
title = "Indicators"
description = "Every indicator"
writable = true

[[intel.collections]]
name = "feeds"
title = "Feed IPs"
description = "Botnet C2 addresses from the CLEAR, AMBER, AMBER+STRICT and RED feeds"
sources = ["feed-clear", "feed-amber", "feed-amber+strict", "feed-red"]
kinds = ["ip"]
max_tlp = "amber"

[[intel.collections]]
name = "reports"
title = "Partner reports"
sources = ["partner reports"]
kinds = ["domain", "url"]
max_tlp = "amber"
writable = true
""" % BLOCKLIST_TOKEN


def listed_collections(level):
    # Partner CLEAR lists only the first collection.
    return ["Indicators"] if level == "clear" else ["Indicators", "Feed IPs", "Partner reports"]


def user(level):
    return "partner-" + level.replace("+", "-")


@pytest.fixture
def taxii_server(tmp_path):
    lines = [COLLECTIONS]
    for level in LEVELS:
        names = ["indicators"] if level == "clear" else ["indicators", "feeds", "reports"]
        lines += ["[[intel.partners]]", f'name = "Partner {level.upper()}"', f'max_tlp = "{level}"',
                  f"collections = {json.dumps(names)}", f'username = "{user(level)}"',
                  f'password_sha256 = "{hashlib.sha256(PASSWORD.encode()).hexdigest()}"',
                  f'contacts = [{{ name = "Duty officer {level}", role = "CSIRT", email = "soc@{user(level)}.example", phone = "+39 06 0000" }}]', ""]
    config = tmp_path / "sentinella.toml"
    config.write_text("\n".join(lines))
    srv = Sentinella(tmp_path / "data", tmp_path / "server.log", extra_args=["--config", str(config)]).start()
    # One indicator per TLP level, imported through the API.
    for idx, level in enumerate(LEVELS):
        status, body = srv.request("POST", "/api/v1/intel/import?" + urllib.parse.urlencode({"format": "plain", "source": f"feed-{level}", "tlp": level}),
                                   body=f"198.51.100.{idx + 1}\n".encode(), headers={"Content-Type": "text/plain"})
        assert status == 200 and body["new"] == 1, body
    yield srv
    srv.stop()


def collection(srv, level, title="Indicators"):
    server = TaxiiServer(f"{srv.url}/taxii2/", user=user(level), password=PASSWORD)
    roots = server.api_roots
    assert len(roots) == 1
    collections = roots[0].collections
    assert [c.title for c in collections] == listed_collections(level)
    found = [c for c in collections if c.title == title]
    assert found and found[0].can_read
    assert found[0].can_write == (title != "Feed IPs")
    return found[0]


def values(objects):
    return sorted(o["pattern"].split("'")[1] for o in objects if o["type"] == "indicator")


def visible(level, title="Indicators"):
    rank = LEVELS.index(level)
    held = LEVELS if title == "Indicators" else ["clear", "amber"]
    return sorted(f"198.51.100.{idx + 1}" for idx, tlp in enumerate(LEVELS)
                  if idx <= rank and tlp != "red" and tlp in held)


def test_tlp_matrix_nothing_leaks_on_any_read_path(taxii_server):
    srv = taxii_server
    status, body = srv.request("GET", "/api/v1/intel/indicators?max_tlp=red")
    all_ids = {i["value"]: i["id"] for i in body["indicators"]}
    cases = [(level, title) for level in LEVELS for title in listed_collections(level)
             if title != "Partner reports"]
    assert len(cases) == 9
    for level, title in cases:
        coll = collection(srv, level, title)
        expected = visible(level, title)
        objects = coll.get_objects()["objects"]
        assert values(objects) == expected, (level, title)
        for o in objects:
            assert o["object_marking_refs"][0] in [TLP_IDS[t] for t in LEVELS[:LEVELS.index(level) + 1]]
        manifest = coll.get_manifest()["objects"]
        assert sorted(m["id"] for m in manifest) == sorted(all_ids[v] for v in expected)
        for value, object_id in all_ids.items():
            if value in expected:
                assert values(coll.get_object(object_id)["objects"]) == [value]
                assert len(coll.object_versions(object_id)["versions"]) == 1
            else:
                # Withheld is indistinguishable from absent, on every path.
                for read in (coll.get_object, coll.object_versions):
                    with pytest.raises(Exception) as err:  # requests.HTTPError from taxii2-client
                        read(object_id)
                    assert "404" in str(err.value)
    # RED is never shared, whatever the clearance.
    assert "198.51.100.5" not in visible("red")
    assert visible("red", "Feed IPs") == ["198.51.100.1", "198.51.100.3"]
    # The organisation exports a collection as partners read it (its own TLP ceiling aside).
    status, body = srv.request("GET", "/api/v1/intel/export/edl-ip?collection=feeds&max_tlp=amber%2Bstrict")
    assert status == 200 and sorted(body.split()) == visible("red", "Feed IPs"), body
    result = subprocess.run([BIN, "intel", "export", "--server", srv.url, "--data-dir", str(srv.data_dir),
                             "--format", "stix", "--collection", "feeds", "--max-tlp", "red"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert values(json.loads(result.stdout)["objects"]) == visible("red", "Feed IPs")
    assert srv.request("GET", "/api/v1/intel/export/edl-ip?collection=nope")[0] == 400
    # A collection the partner does not list is as absent as one that does not exist.
    feeds_url = collection(srv, "green", "Feed IPs").url
    hidden = Collection(feeds_url, user=user("clear"), password=PASSWORD)
    for read in (hidden.get_objects, hidden.get_manifest, lambda: hidden.get_object(all_ids["198.51.100.1"])):
        with pytest.raises(Exception) as err:
            read()
        assert "404" in str(err.value)


def test_preview_matches_what_taxii_serves(taxii_server):
    status, body = taxii_server.request("GET", "/api/v1/intel/share-preview")
    assert status == 200
    by_partner = {p["partner"]: p for p in body["partners"]}
    assert by_partner["Partner GREEN"]["shared"] == 2
    assert by_partner["Partner GREEN"]["summary"] == (
        "2 indicators to Partner GREEN (cleared up to TLP:GREEN); 3 withheld from Partner GREEN: "
        "1 TLP:AMBER, 1 TLP:AMBER+STRICT, 1 TLP:RED")
    # Per collection, with what TAXII serves from it.
    green = {c["collection"]: c for c in by_partner["Partner GREEN"]["collections"]}
    assert list(green) == ["indicators", "feeds", "reports"]
    assert green["feeds"]["summary"] == "1 indicator to Partner GREEN in collection feeds; 1 withheld from Partner GREEN: 1 TLP:AMBER"
    assert green["feeds"]["shared"] == len(visible("green", "Feed IPs")) and not green["feeds"]["writable"]
    assert green["reports"]["summary"] == "0 indicators to Partner GREEN in collection reports"
    assert [c["collection"] for c in by_partner["Partner CLEAR"]["collections"]] == ["indicators"]
    for level in LEVELS[1:]:
        for c in by_partner[f"Partner {level.upper()}"]["collections"]:
            title = {"indicators": "Indicators", "feeds": "Feed IPs", "reports": "Partner reports"}[c["collection"]]
            assert c["shared"] == len(collection(taxii_server, level, title).get_objects()["objects"]), (level, c)
    # The CLI preview says the same, from the config file and the data directory.
    config = taxii_server.data_dir.parent / "sentinella.toml"
    result = subprocess.run([BIN, "intel", "share-preview", "--config", str(config), "--data-dir", str(taxii_server.data_dir)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert by_partner["Partner GREEN"]["summary"] in result.stdout.splitlines()
    assert "  " + green["feeds"]["summary"] in result.stdout.splitlines()
    assert "4 indicators to Partner RED (cleared up to TLP:RED); 1 withheld from Partner RED: 1 TLP:RED" in result.stdout
    status, body = taxii_server.request("GET", "/api/v1/intel/partners")
    assert body["partners"][0]["contacts"][0]["role"] == "CSIRT"
    assert "password_sha256" not in json.dumps(body)


def test_pagination_and_filters(taxii_server):
    coll = collection(taxii_server, "amber+strict")
    pages = [page["objects"] for page in as_pages(coll.get_objects, per_request=1)]
    assert [len(p) for p in pages] == [1, 1, 1, 1]
    assert sorted(v for p in pages for v in values(p)) == visible("amber+strict")
    manifest = coll.get_manifest()["objects"]
    first = manifest[0]
    newer = coll.get_objects(added_after=first["date_added"])["objects"]
    assert first["id"] not in [o["id"] for o in newer]
    assert len(newer) == len([m for m in manifest if m["date_added"] > first["date_added"]])
    by_id = coll.get_objects(id=first["id"])["objects"]
    assert [o["id"] for o in by_id] == [first["id"]]
    assert coll.get_objects(type="malware")["objects"] == []
    assert len(coll.get_objects(version="all")["objects"]) == 4
    # `next` is a position in the listing order, not an offset: what is added between two
    # pages comes after them, nothing is served twice or skipped.
    first_page = coll.get_objects(limit=2)
    assert first_page["more"] and len(first_page["objects"]) == 2
    status, body = taxii_server.request("POST", "/api/v1/intel/import?format=plain&source=late&tlp=green",
                                        body=b"203.0.113.77\n", headers={"Content-Type": "text/plain"})
    assert status == 200 and body["new"] == 1, body
    served, page = list(first_page["objects"]), first_page
    while page.get("more"):
        page = coll.get_objects(limit=2, next=page["next"])
        served += page["objects"]
    ids = [o["id"] for o in served]
    assert len(ids) == len(set(ids)) == 5
    assert values(served) == sorted(visible("amber+strict") + ["203.0.113.77"])
    assert values(served[-1:]) == ["203.0.113.77"]
    bad = requests.get(coll.url + "objects/?next=12", auth=(user("amber+strict"), PASSWORD), timeout=10)
    assert bad.status_code == 400


def test_partners_write_objects_and_tlp_applies_to_them(taxii_server):
    srv = taxii_server
    writer = collection(srv, "amber")
    indicator = {
        "type": "indicator", "spec_version": "2.1", "id": "indicator--1f6b6b55-8e86-4d1b-a0c2-6f5b6f3a9e01",
        "created": "2024-05-01T00:00:00.000Z", "modified": "2024-05-01T00:00:00.000Z",
        "name": "C2", "pattern": "[domain-name:value = 'c2.partner-intel.example']", "pattern_type": "stix",
        "valid_from": "2024-05-01T00:00:00Z", "object_marking_refs": [TLP_IDS["amber"]],
    }
    not_indicator = {"type": "malware", "spec_version": "2.1", "id": "malware--8a1f5c3e-3b7d-4c9e-9f1a-2b3c4d5e6f70",
                     "created": "2024-05-01T00:00:00.000Z", "modified": "2024-05-01T00:00:00.000Z",
                     "name": "x", "is_family": False}
    status = writer.add_objects(json.dumps({"objects": [indicator, not_indicator]}))
    assert status.status == "complete"
    assert status.success_count == 1 and status.failure_count == 1
    assert status.successes[0]["id"] == indicator["id"]
    # The status resource can be read again.
    root = ApiRoot(f"{srv.url}/taxii2/sentinella/", user=user("amber"), password=PASSWORD)
    assert root.get_status(status.id).success_count == 1
    assert "c2.partner-intel.example" in [o["pattern"].split("'")[1] for o in writer.get_objects()["objects"]]
    green = collection(srv, "green")
    assert indicator["id"] not in [o["id"] for o in green.get_objects()["objects"]]
    # The written indicator is matched live, credited to the partner.
    status_code, body = srv.request("GET", "/api/v1/intel/indicators?value=c2.partner-intel.example")
    assert body["indicators"][0]["sources"] == ["Partner AMBER"] and body["indicators"][0]["tlp"] == "amber"


def test_credentials_are_required_and_checked(taxii_server):
    srv = taxii_server
    for headers in ({}, {"Authorization": "Basic " + "cGFydG5lci1hbWJlcjp3cm9uZw=="},
                    {"Authorization": f"Bearer {srv.token}"}):
        status, body = srv.request("GET", "/taxii2/", headers=headers, token=False)
        assert status == 401, (headers, body)
    bad = TaxiiServer(f"{srv.url}/taxii2/", user=user("amber"), password="wrong")
    with pytest.raises(Exception):
        bad.api_roots
    coll = Collection(f"{srv.url}/taxii2/sentinella/collections/00000000-0000-4000-8000-000000000000/",
                      user=user("amber"), password=PASSWORD)
    with pytest.raises(Exception) as err:
        coll.get_objects()
    assert "404" in str(err.value)


def stix_indicator(uuid_tail, pattern, tlp):
    return {
        "type": "indicator", "spec_version": "2.1", "id": f"indicator--0c1a2b3c-4d5e-4f60-8a7b-{uuid_tail}",
        "created": "2024-06-01T00:00:00.000Z", "modified": "2024-06-01T00:00:00.000Z",
        "name": "partner report", "pattern": pattern, "pattern_type": "stix",
        "valid_from": "2024-06-01T00:00:00Z", "object_marking_refs": [TLP_IDS[tlp]],
    }


def taxii_request(method, url, level, body=None):
    """A raw TAXII request (taxii2-client refuses writes to read-only collections itself)."""
    auth = base64.b64encode(f"{user(level)}:{PASSWORD}".encode()).decode()
    headers = {"Accept": MEDIA_TYPE, "Authorization": f"Basic {auth}"}
    if body is not None:
        headers["Content-Type"] = MEDIA_TYPE
    return requests.request(method, url, headers=headers, data=json.dumps(body) if body is not None else None, timeout=60)


def blocklist(srv, fmt):
    status, body = srv.request("GET", f"/api/v1/intel/blocklist/{fmt}?token={BLOCKLIST_TOKEN}&max_tlp=amber", token=False)
    assert status == 200, body
    return (body or "").split()  # an empty list reads as None


def test_writes_go_to_a_writable_collection_within_its_selection(taxii_server):
    srv = taxii_server
    reports = collection(srv, "amber", "Partner reports")
    domain = stix_indicator("000000000001", "[domain-name:value = 'phish.partner-report.example']", "amber")
    address = stix_indicator("000000000002", "[ipv4-addr:value = '203.0.113.77']", "amber")
    status = reports.add_objects(json.dumps({"objects": [domain, address]}))
    assert status.success_count == 1 and status.failure_count == 1, status
    assert status.failures[0]["id"] == address["id"]
    assert "outside the selection of collection reports" in status.failures[0]["message"]
    # The report is in the collection it was written to (credited to the partner), for
    # every partner cleared for AMBER; not for GREEN, and not in the read-only feeds.
    for level in ("amber", "amber+strict"):
        (read,) = collection(srv, level, "Partner reports").get_objects()["objects"]
        assert read["id"] == domain["id"]
        # Which collection it was written to stays with us (it is a tag here, not a label there).
        assert "labels" not in read
    assert collection(srv, "green", "Partner reports").get_objects()["objects"] == []
    assert domain["id"] not in [o["id"] for o in collection(srv, "red", "Feed IPs").get_objects()["objects"]]
    _, body = srv.request("GET", "/api/v1/intel/indicators?value=phish.partner-report.example")
    assert body["indicators"][0]["sources"] == ["Partner AMBER"]
    assert "taxii:reports" in body["indicators"][0]["tags"]
    _, body = srv.request("GET", "/api/v1/intel/indicators?value=203.0.113.77")
    assert body["total"] == 0
    # A read-only collection refuses writes, whoever asks.
    feeds = collection(srv, "amber", "Feed IPs")
    response = taxii_request("POST", feeds.objects_url, "amber", {"objects": [address]})
    assert response.status_code == 403, response.text
    assert response.headers["Content-Type"] == MEDIA_TYPE
    _, body = srv.request("GET", "/api/v1/intel/indicators?value=203.0.113.77")
    assert body["total"] == 0


def test_partners_delete_their_own_objects_only(taxii_server):
    srv = taxii_server
    reports = collection(srv, "amber", "Partner reports")
    domain = stix_indicator("000000000003", "[domain-name:value = 'false-positive.partner-report.example']", "amber")
    assert reports.add_objects(json.dumps({"objects": [domain]})).success_count == 1
    assert "false-positive.partner-report.example" in blocklist(srv, "edl-domain")
    object_url = f"{reports.objects_url}{domain['id']}/"
    # Another partner that reads it may not delete it; one that cannot read it does not
    # learn it exists.
    assert taxii_request("DELETE", object_url.replace(reports.url, collection(srv, "amber+strict", "Partner reports").url),
                         "amber+strict").status_code == 403
    assert taxii_request("DELETE", object_url, "green").status_code == 404
    # Nobody deletes a feed's indicator, nor anything in a read-only collection.
    indicators = collection(srv, "amber", "Indicators")
    _, body = srv.request("GET", "/api/v1/intel/indicators?value=198.51.100.1")
    feed_object = body["indicators"][0]["id"]
    assert taxii_request("DELETE", f"{indicators.objects_url}{feed_object}/", "amber").status_code == 403
    feeds = collection(srv, "amber", "Feed IPs")
    assert taxii_request("DELETE", f"{feeds.objects_url}{feed_object}/", "amber").status_code == 403
    assert taxii_request("DELETE", f"{feeds.objects_url}{domain['id']}/", "amber").status_code == 403
    # The partner deletes its own report with the OASIS client (§5.7 Delete An Object).
    reports.delete_object(domain["id"])
    # Withdrawn: partners read it as revoked, the blocklists drop it at once, matching too.
    (revoked,) = reports.get_object(domain["id"])["objects"]
    assert revoked["revoked"] is True
    assert "false-positive.partner-report.example" not in blocklist(srv, "edl-domain")
    _, body = srv.request("GET", "/api/v1/intel/indicators?value=false-positive.partner-report.example")
    assert body["indicators"][0]["withdrawn"] is True
    # Deleting it again: nothing left to delete.
    assert taxii_request("DELETE", object_url, "amber").status_code == 404
    # The feeds' indicators are untouched.
    assert values(collection(srv, "amber", "Feed IPs").get_objects()["objects"]) == visible("amber", "Feed IPs")


def test_a_partner_deletes_its_own_pattern_only_indicator(taxii_server):
    srv = taxii_server
    indicators = collection(srv, "amber", "Indicators")
    # Two observations in sequence: kept as a pattern, not matchable on one event.
    pattern = stix_indicator("000000000004", "[ipv4-addr:value = '203.0.113.9'] FOLLOWEDBY [domain-name:value = 'stage2.partner-report.example']", "amber")
    assert indicators.add_objects(json.dumps({"objects": [pattern]})).success_count == 1
    assert [o["id"] for o in indicators.get_objects(id=pattern["id"])["objects"]] == [pattern["id"]]
    other = collection(srv, "amber+strict", "Indicators")
    assert taxii_request("DELETE", f"{other.objects_url}{pattern['id']}/", "amber+strict").status_code == 403
    indicators.delete_object(pattern["id"])
    assert indicators.get_objects(id=pattern["id"])["objects"] == []
    assert taxii_request("DELETE", f"{indicators.objects_url}{pattern['id']}/", "amber").status_code == 404
