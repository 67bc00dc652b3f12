"""The TAXII 2.1 server with the OASIS `taxii2-client`: discovery, collections, objects with
pagination and filters, manifests, versions, writes with status; and a matrix over the five
TLP levels and partner clearances proving nothing leaks on any read path."""

import hashlib
import json
import urllib.parse

import pytest
from taxii2client.v21 import ApiRoot, Collection, Server as TaxiiServer, as_pages

import subprocess

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


def user(level):
    return "partner-" + level.replace("+", "-")


@pytest.fixture
def taxii_server(tmp_path):
    lines = []
    for level in LEVELS:
        lines += ["[[intel.partners]]", f'name = "Partner {level.upper()}"', f'max_tlp = "{level}"',
                  'collections = ["indicators"]', f'username = "{user(level)}"',
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


def collection(srv, level):
    server = TaxiiServer(f"{srv.url}/taxii2/", user=user(level), password=PASSWORD)
    roots = server.api_roots
    assert len(roots) == 1
    collections = roots[0].collections
    assert [c.title for c in collections] == ["Indicators"]
    assert collections[0].can_read and collections[0].can_write
    return collections[0]


def values(objects):
    return sorted(o["pattern"].split("'")[1] for o in objects if o["type"] == "indicator")


def visible(level):
    rank = LEVELS.index(level)
    return sorted(f"198.51.100.{idx + 1}" for idx, tlp in enumerate(LEVELS) if idx <= rank and tlp != "red")


def test_tlp_matrix_nothing_leaks_on_any_read_path(taxii_server):
    srv = taxii_server
    status, body = srv.request("GET", "/api/v1/intel/indicators?max_tlp=red")
    all_ids = {i["value"]: i["id"] for i in body["indicators"]}
    for level in LEVELS:
        coll = collection(srv, level)
        expected = visible(level)
        objects = coll.get_objects()["objects"]
        assert values(objects) == expected, level
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


def test_preview_matches_what_taxii_serves(taxii_server):
    status, body = taxii_server.request("GET", "/api/v1/intel/share-preview")
    assert status == 200
    by_partner = {p["partner"]: p for p in body["partners"]}
    assert by_partner["Partner GREEN"]["shared"] == 2
    assert by_partner["Partner GREEN"]["summary"] == (
        "2 indicators to Partner GREEN (cleared up to TLP:GREEN); 3 withheld from Partner GREEN: "
        "1 TLP:AMBER, 1 TLP:AMBER+STRICT, 1 TLP:RED")
    # The CLI preview says the same, from the config file and the data directory.
    config = taxii_server.data_dir.parent / "sentinella.toml"
    result = subprocess.run([BIN, "intel", "share-preview", "--config", str(config), "--data-dir", str(taxii_server.data_dir)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert by_partner["Partner GREEN"]["summary"] in result.stdout.splitlines()
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
