"""Access control over real HTTP: first admin, 401 on every route, roles, CSRF, lockout, CLI users."""

import json
import re
import stat
import subprocess
import urllib.parse

import pytest

from conftest import BIN

PASSWORD = "a long enough password"
ALERT_ID = "0123456789abcdef0123456789abcdef"


def sign_in(server, user, password=PASSWORD):
    status, body, headers = raw(server, "POST", "/api/v1/session", {"user": user, "password": password})
    cookie = headers.get("Set-Cookie", "")
    match = re.match(r"sentinella_session=([0-9a-f]+);", cookie)
    return status, body, (match.group(1) if match else None), cookie


def raw(server, method, path, body=None, headers=None):
    """Like Server.request but without the admin token, returning headers too."""
    import urllib.error
    import urllib.request
    headers = dict(headers or {})
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers.setdefault("Content-Type", "application/json")
    req = urllib.request.Request(server.url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, json.loads(resp.read() or b"null"), resp.headers
    except urllib.error.HTTPError as err:
        text = err.read()
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = text.decode(errors="replace")
        return err.code, parsed, err.headers


def session_headers(session, csrf=None):
    headers = {"Cookie": f"sentinella_session={session}"}
    if csrf:
        headers["X-CSRF-Token"] = csrf
    return headers


def add_user(server, name, role):
    status, body = server.request("POST", "/api/v1/users", {"name": name, "role": role, "password": PASSWORD})
    assert status == 200, body


def test_first_start_creates_an_admin_with_a_private_one_time_password(server):
    path = server.data_dir / "initial-admin-password"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert str(path) in server.log_path.read_text()
    status, body, session, _ = sign_in(server, "admin", path.read_text().strip())
    assert status == 200, body
    assert body["user"]["must_change_password"] is True
    # Until the password changes, nothing but the session routes works.
    status, body, _ = raw(server, "GET", "/api/v1/search?q=*", headers=session_headers(session))
    assert status == 403 and body["error"]["code"] == "password_change_required"
    # The admin token keeps working: scripts and the CLI are not blocked.
    status, _ = server.request("GET", "/api/v1/search?q=*")
    assert status == 200


def test_every_api_route_answers_401_without_credentials(server):
    status, doc = server.request("GET", "/api/v1/openapi.json")
    assert status == 200 and doc["openapi"].startswith("3.")
    routes = [(method.upper(), path) for path, ops in doc["paths"].items() for method in ops]
    assert len(routes) >= 25, routes
    public = {("GET", "/health"), ("POST", "/api/v1/session"),
              # OpenID Connect sign-in: public by nature (no session yet), see api::access.
              ("GET", "/api/v1/session/oidc"), ("GET", "/api/v1/session/oidc/start"),
              ("GET", "/api/v1/session/oidc/callback")}
    for method, path in routes:
        uri = path.replace("{id}", ALERT_ID).replace("{name}", "admin")
        status, body, headers = raw(server, method, uri, body={} if method != "GET" else None)
        if path.startswith("/api/v1/intel/blocklist/"):
            # Checked by its handler with a blocklist token (firewalls): still closed.
            assert status == 401, (method, path, status)
            continue
        if (method, path) in public:
            assert status != 401 or path == "/api/v1/session", (method, path, status)
            continue
        assert status == 401, (method, path, status, body)
        assert body["error"]["code"] == "unauthorized"
        # A wrong token or a made-up session is no better.
        status, _, _ = raw(server, method, uri, body={} if method != "GET" else None,
                           headers={"Authorization": "Bearer snt_" + "0" * 64})
        assert status == 401, (method, path)
        status, _, _ = raw(server, method, uri, body={} if method != "GET" else None,
                           headers=session_headers("f" * 64, "x"))
        assert status == 401, (method, path)
    # Routes nobody documented are closed too.
    assert raw(server, "GET", "/api/v1/nothing-here")[0] == 401
    assert raw(server, "GET", "/api/v1/openapi.json")[0] == 401
    # The console's files are public and carry the policy that forbids inline script.
    status, _, headers = raw(server, "GET", "/health")
    assert "script-src 'self'" in headers["Content-Security-Policy"]


def test_roles_csrf_and_sign_out(server):
    add_user(server, "carla", "analyst")
    add_user(server, "vera", "viewer")
    status, body, viewer, cookie = sign_in(server, "vera")
    assert status == 200
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    viewer_csrf = body["csrf"]
    change = {"status": "acknowledged"}
    status, body, _ = raw(server, "POST", f"/api/v1/alerts/{ALERT_ID}/status", change,
                          session_headers(viewer, viewer_csrf))
    assert status == 403 and body["error"]["code"] == "forbidden"
    status, _, _ = raw(server, "GET", "/api/v1/alerts", headers=session_headers(viewer))
    assert status == 200

    status, body, analyst, _ = sign_in(server, "carla")
    csrf = body["csrf"]
    status, body, _ = raw(server, "POST", f"/api/v1/alerts/{ALERT_ID}/status", change, session_headers(analyst))
    assert status == 403 and body["error"]["code"] == "csrf"
    status, body, _ = raw(server, "POST", f"/api/v1/alerts/{ALERT_ID}/status", change,
                          session_headers(analyst, viewer_csrf))
    assert status == 403 and body["error"]["code"] == "csrf"
    status, body, _ = raw(server, "POST", f"/api/v1/alerts/{ALERT_ID}/status", change, session_headers(analyst, csrf))
    assert status == 200, body
    # Analysts are not admins.
    status, _, _ = raw(server, "GET", "/api/v1/audit", headers=session_headers(analyst))
    assert status == 403

    status, _, _ = raw(server, "DELETE", "/api/v1/session", headers=session_headers(analyst, csrf))
    assert status == 200
    status, _, _ = raw(server, "GET", "/api/v1/session", headers=session_headers(analyst))
    assert status == 401

    status, body = server.request("GET", "/api/v1/audit?limit=100")
    actions = [entry["action"] for entry in body["entries"]]
    for expected in ("user_created", "sign_in", "alert_changed", "sign_out"):
        assert expected in actions, actions
    # No route edits or deletes the audit log.
    for method in ("DELETE", "PUT", "POST", "PATCH"):
        status, _ = server.request(method, "/api/v1/audit", {})
        assert status in (404, 405), (method, status)


def test_personal_tokens_act_with_their_owner_role(server):
    add_user(server, "vera", "viewer")
    _, body, session, _ = sign_in(server, "vera")
    status, created, _ = raw(server, "POST", "/api/v1/tokens", {"name": "nightly report"},
                             session_headers(session, body["csrf"]))
    assert status == 200, created
    token = created["token"]
    auth = {"Authorization": f"Bearer {token}"}
    assert raw(server, "GET", "/api/v1/search?q=*", headers=auth)[0] == 200
    assert raw(server, "POST", "/api/v1/ingest", {"message": "x"}, auth)[0] == 403
    status, _, _ = raw(server, "DELETE", f"/api/v1/tokens/{created['info']['id']}", headers=auth)
    assert status == 200
    assert raw(server, "GET", "/api/v1/search?q=*", headers=auth)[0] == 401


def es_bulk(server, token):
    import urllib.error
    import urllib.request
    body = b'{"index":{"_index":"logs"}}\n{"message":"shipped with a personal token"}\n'
    req = urllib.request.Request(server.es_url + "/_bulk", data=body, method="POST",
                                 headers={"Content-Type": "application/x-ndjson", "Authorization": f"ApiKey {token}"})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code


def test_shippers_may_use_an_analyst_token_on_the_elasticsearch_api(server):
    add_user(server, "carla", "analyst")
    add_user(server, "vera", "viewer")
    tokens = {}
    for name in ("carla", "vera"):
        _, body, session, _ = sign_in(server, name)
        status, created, _ = raw(server, "POST", "/api/v1/tokens", {"name": "winlogbeat"},
                                 session_headers(session, body["csrf"]))
        assert status == 200, created
        tokens[name] = created["token"]
    assert es_bulk(server, tokens["carla"]) == 200
    assert es_bulk(server, tokens["vera"]) == 401
    assert es_bulk(server, "snt_" + "1" * 64) == 401
    assert server.wait_total('"shipped with a personal token"', 1) == 1


def test_brute_force_locks_the_account(server):
    add_user(server, "carla", "analyst")
    for _ in range(5):
        status, body, _, _ = sign_in(server, "carla", "not the password")
        assert status == 401 and body["error"]["code"] == "sign_in_failed"
    status, body, session, _ = sign_in(server, "carla")
    assert status == 403 and body["error"]["code"] == "locked"
    assert session is None
    status, users = server.request("GET", "/api/v1/users")
    carla = next(user for user in users["users"] if user["name"] == "carla")
    assert carla["locked_until"]
    # An admin resetting the password unlocks.
    status, _ = server.request("POST", "/api/v1/users/carla", {"password": "another long password"})
    assert status == 200
    assert sign_in(server, "carla", "another long password")[0] == 200


def test_sign_in_source_is_the_real_peer_and_a_spraying_address_is_refused(server):
    add_user(server, "carla", "analyst")
    add_user(server, "vera", "viewer")
    # A forged X-Forwarded-For is not believed (no trusted proxy configured).
    status, _, _ = raw(server, "POST", "/api/v1/session", {"user": "nobody", "password": "x"},
                       headers={"X-Forwarded-For": "203.0.113.66"})
    assert status == 401
    status, audit = server.request("GET", "/api/v1/audit?limit=1")
    assert audit["entries"][0]["detail"]["source"] == "127.0.0.1", audit
    # Spraying: a few guesses per account (under the 5 that lock one), 20 failures in all.
    failures = 1
    while failures < 20:
        for user in ("carla", "vera", "ghost", "admin2", "root", "backup"):
            if failures < 20:
                assert sign_in(server, user, "Autunno2026!")[0] == 401
                failures += 1
    status, body, session, _ = sign_in(server, "carla")
    assert status == 403 and body["error"]["code"] == "source_blocked", body
    assert session is None
    status, audit = server.request("GET", "/api/v1/audit?limit=5")
    actions = [entry["action"] for entry in audit["entries"]]
    assert "source_blocked" in actions, actions
    # The admin token (scripts, the CLI) is not a sign-in and keeps working.
    assert server.request("GET", "/api/v1/users")[0] == 200


def test_cli_manages_users_through_the_api_and_directly(server):
    def cli(*args, stdin=None):
        return subprocess.run([BIN, "user", *args, "--data-dir", str(server.data_dir), "--server", server.url],
                              input=stdin, capture_output=True, text=True, timeout=120)

    result = cli("add", "dario", "--role", "viewer", "--password-stdin", stdin=PASSWORD + "\n")
    assert result.returncode == 0, result.stderr
    assert sign_in(server, "dario")[0] == 200
    result = cli("role", "dario", "analyst")
    assert result.returncode == 0, result.stderr
    result = cli("list")
    assert re.search(r"dario\s+analyst\s+active\s+password", result.stdout), result.stdout
    # With the server stopped the CLI opens the account database itself.
    server.stop()
    result = cli("passwd", "dario")
    assert result.returncode == 0, result.stderr
    new_password = re.search(r"password: (\S+)", result.stdout).group(1)
    result = cli("disable", "admin")
    assert result.returncode == 0, result.stderr
    server.start()
    assert sign_in(server, "dario", PASSWORD)[0] == 401
    assert sign_in(server, "dario", new_password)[0] == 200
    status, body, _, _ = sign_in(server, "admin", (server.data_dir / "initial-admin-password").read_text().strip())
    assert status == 403 and body["error"]["code"] == "disabled"
    status, body = server.request("GET", "/api/v1/audit?limit=20")
    cli_entries = [e for e in body["entries"] if e["actor"].startswith("cli:")]
    assert {e["action"] for e in cli_entries} >= {"password_changed", "user_disabled"}
    # While the server ran, the database was locked and the CLI went through the API.
    created = next(e for e in body["entries"] if e["action"] == "user_created" and e["target"] == "dario")
    assert created["actor"] == "admin-token"


def test_session_fixation_a_planted_session_id_never_becomes_valid(server):
    add_user(server, "carla", "analyst")
    planted = "ab" * 32
    status, body, headers = raw(server, "POST", "/api/v1/session", {"user": "carla", "password": PASSWORD},
                                session_headers(planted))
    assert status == 200
    issued = re.match(r"sentinella_session=([0-9a-f]+);", headers["Set-Cookie"]).group(1)
    assert issued != planted and len(issued) == 64
    assert raw(server, "GET", "/api/v1/session", headers=session_headers(planted))[0] == 401
    assert raw(server, "GET", "/api/v1/session", headers=session_headers(issued))[0] == 200
    # Each sign-in issues a new id; signing out ends only that session.
    _, _, second, _ = sign_in(server, "carla")
    assert second != issued
    assert raw(server, "DELETE", "/api/v1/session", headers=session_headers(second, _csrf(server, second)))[0] == 200
    assert raw(server, "GET", "/api/v1/session", headers=session_headers(second))[0] == 401
    assert raw(server, "GET", "/api/v1/session", headers=session_headers(issued))[0] == 200


def _csrf(server, session):
    return raw(server, "GET", "/api/v1/session", headers=session_headers(session))[1]["csrf"]
