"""TLP on the intelligence read paths of the API (indicator list, export, blocklists), per
role: viewers and analysts read up to `[intel] api_max_tlp`, TLP:RED only admins who ask for
it, a caller's `max_tlp` only narrows, blocklists never carry RED."""

import json
import re
import subprocess
import urllib.error
import urllib.parse
import urllib.request

import pytest

from conftest import BIN, Server, free_port

BLOCKLIST_TOKEN = "blocklist-token-0123456789abcdef"
LEVELS = ["clear", "green", "amber", "amber+strict", "red"]
# One IP per level: 198.51.100.1 is CLEAR … 198.51.100.5 is RED.
IPS = {level: f"198.51.100.{n}" for n, level in enumerate(LEVELS, start=1)}


def start(tmp_path, intel_lines):
    config = tmp_path / "sentinella.toml"
    config.write_text("\n".join(["[intel]", f'blocklist_tokens = ["{BLOCKLIST_TOKEN}"]', *intel_lines]) + "\n")
    srv = Server(tmp_path / "data", tmp_path / "server.log", extra_args=["--config", str(config)]).start()
    for level, ip in IPS.items():
        feed = tmp_path / f"{level}.txt"
        feed.write_text(ip + "\n")
        result = subprocess.run([BIN, "intel", "import", "--server", srv.url, "--data-dir", str(srv.data_dir),
                                 "--tlp", level, str(feed)], capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr + result.stdout
    return srv


def token_of(server, name, role):
    """A personal API token of a new user with `role` (created by the admin token)."""
    password = "a long enough password"
    status, body = server.request("POST", "/api/v1/users", {"name": name, "role": role, "password": password})
    assert status == 200, body
    req = urllib.request.Request(server.url + "/api/v1/session", method="POST",
                                 data=json.dumps({"user": name, "password": password}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        csrf = json.loads(resp.read())["csrf"]
        session = re.match(r"sentinella_session=([0-9a-f]+);", resp.headers["Set-Cookie"]).group(1)
    status, created = server.request("POST", "/api/v1/tokens", {"name": "tlp test"}, token=False,
                                     headers={"Cookie": f"sentinella_session={session}", "X-CSRF-Token": csrf})
    assert status == 200, created
    return {"Authorization": f"Bearer {created['token']}"}


def listed(server, auth, max_tlp=None):
    """(status, set of IPs) of the indicator list, as `auth` (None: the admin token)."""
    query = {"kind": "ip"} | ({"max_tlp": max_tlp} if max_tlp else {})
    path = "/api/v1/intel/indicators?" + urllib.parse.urlencode(query)
    status, body = server.request("GET", path, headers=auth, token=auth is None)
    return status, ({i["value"] for i in body["indicators"]} if status == 200 else body)


def exported(server, auth, max_tlp=None):
    query = "?" + urllib.parse.urlencode({"max_tlp": max_tlp}) if max_tlp else ""
    status, body = server.request("GET", "/api/v1/intel/export/edl-ip" + query, headers=auth, token=auth is None)
    return status, (set(body.split()) if status == 200 else body)


def up_to(level):
    return {IPS[l] for l in LEVELS[: LEVELS.index(level) + 1]}


@pytest.fixture
def default_server(tmp_path):
    srv = start(tmp_path, [])
    yield srv
    srv.stop()


def test_red_is_for_admins_who_ask_and_callers_only_narrow(default_server):
    server = default_server
    callers = {"viewer": token_of(server, "vera", "viewer"), "analyst": token_of(server, "anna", "analyst")}
    for role, auth in callers.items():
        for read in (listed, exported):
            status, values = read(server, auth)
            assert status == 200 and values == up_to("amber+strict"), (role, read.__name__, values)
            status, body = read(server, auth, "red")
            assert status == 403 and body["error"]["code"] == "forbidden", (role, read.__name__, body)
            for level in LEVELS[:4]:
                status, values = read(server, auth, level)
                assert status == 200 and values == up_to(level), (role, read.__name__, level, values)
    # Admins (here: the admin token) see RED only when they ask for it.
    for read in (listed, exported):
        assert read(server, None) == (200, up_to("amber+strict"))
        assert read(server, None, "red") == (200, up_to("red"))
    # Blocklists (default clearance AMBER+STRICT: the organisation's own devices), never RED.
    for asked in ("", "&max_tlp=red"):
        status, body = server.request("GET", f"/api/v1/intel/blocklist/edl-ip?token={BLOCKLIST_TOKEN}{asked}", token=False)
        assert status == 200 and set(body.split()) == up_to("amber+strict"), body
    # A bad level is a bad request, not a way around the rule.
    assert listed(server, callers["viewer"], "purple")[0] == 400


def test_configured_api_ceiling_binds_viewers_and_analysts_not_admins(tmp_path):
    server = start(tmp_path, ['api_max_tlp = "green"', 'blocklist_max_tlp = "clear"'])
    try:
        viewer = token_of(server, "vera", "viewer")
        assert listed(server, viewer) == (200, up_to("green"))
        assert listed(server, viewer, "amber")[0] == 403
        assert exported(server, viewer, "amber+strict")[0] == 403
        assert listed(server, None) == (200, up_to("green"))
        assert listed(server, None, "red") == (200, up_to("red"))
        status, body = server.request("GET", f"/api/v1/intel/blocklist/edl-ip?max_tlp=amber&token={BLOCKLIST_TOKEN}", token=False)
        assert status == 200 and set(body.split()) == up_to("clear"), body
    finally:
        server.stop()


def test_a_red_ceiling_is_refused_at_start(tmp_path):
    config = tmp_path / "sentinella.toml"
    config.write_text('[intel]\napi_max_tlp = "red"\n')
    result = subprocess.run([BIN, "serve", "--data-dir", str(tmp_path / "data"), "--config", str(config),
                             "--http-listen", "127.0.0.1:0"], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "api_max_tlp cannot be red" in result.stderr + result.stdout


def cli_export(server, *args):
    """`sentinella intel export --format edl-ip` against `server`; (returncode, IPs or stderr)."""
    result = subprocess.run([BIN, "intel", "export", "--server", server.url, "--data-dir", str(server.data_dir),
                             "--format", "edl-ip", *args], capture_output=True, text=True, timeout=300)
    return result.returncode, (set(result.stdout.split()) if result.returncode == 0 else result.stderr)


def test_cli_export_goes_through_the_api_with_the_callers_role(default_server):
    server = default_server
    viewer = token_of(server, "vera", "viewer")["Authorization"].removeprefix("Bearer ")
    # The CLI's default is TLP:GREEN; a viewer reads up to the API ceiling and no further.
    assert cli_export(server, "--token", viewer) == (0, up_to("green"))
    assert cli_export(server, "--token", viewer, "--max-tlp", "amber+strict") == (0, up_to("amber+strict"))
    code, stderr = cli_export(server, "--token", viewer, "--max-tlp", "red")
    assert code != 0 and "403" in stderr and "admins only" in stderr, stderr
    # The admin token (read from the data directory) reads RED when it asks.
    assert cli_export(server, "--max-tlp", "red") == (0, up_to("red"))
    # A token that is not one gets nothing.
    code, stderr = cli_export(server, "--token", "snt_" + "0" * 64)
    assert code != 0 and "401" in stderr, stderr
    # Every format goes the same way.
    for fmt, expect in (("nft", "198.51.100.1"), ("suricata", "198.51.100.1"), ("rpz", "SOA"), ("stix", '"bundle"')):
        result = subprocess.run([BIN, "intel", "export", "--server", server.url, "--token", viewer, "--format", fmt],
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0 and expect in result.stdout, (fmt, result.stderr)
        assert "198.51.100.5" not in result.stdout and "exported by " + server.url in result.stderr


def test_cli_export_reads_the_data_dir_only_when_asked(default_server, tmp_path):
    server = default_server
    nobody = f"http://127.0.0.1:{free_port()}"
    result = subprocess.run([BIN, "intel", "export", "--server", nobody, "--data-dir", str(server.data_dir),
                             "--format", "edl-ip"], capture_output=True, text=True, timeout=300)
    assert result.returncode != 0 and "--direct" in result.stderr and result.stdout == "", result.stderr
    # --direct is the admin path: whoever reads the data directory reads everything.
    result = subprocess.run([BIN, "intel", "export", "--direct", "--data-dir", str(server.data_dir),
                             "--format", "edl-ip", "--max-tlp", "red"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and set(result.stdout.split()) == up_to("red"), result.stderr
