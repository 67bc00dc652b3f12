"""OpenID Connect sign-in against a real, OpenID Certified provider (panva/oidc-provider,
run by Node from tests/e2e/oidc/provider.mjs), driven like a browser: a cookie jar and
redirects followed one by one, through the provider's own login form.

What the provider does is real (discovery, RS256 JWKS, PKCE-checked single-use codes,
client_secret_basic, userinfo); what Sentinella must do is checked at every step.
"""

import html.parser
import http.cookiejar
import json
import os
import re
import shutil
import ssl
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from conftest import BIN, ROOT, Server, free_port

PROVIDER_DIR = ROOT / "tests" / "e2e" / "oidc"
CONSOLE = ROOT / "tests" / "e2e" / "console"
CLIENT_SECRET = "e2e secret: with spaces & symbols"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


class Browser:
    """A cookie jar and manual redirects, so every hop can be inspected."""

    ca_file = None  # set when the provider serves HTTPS with a test CA

    def __init__(self):
        self.jar = http.cookiejar.CookieJar()
        handlers = [urllib.request.HTTPCookieProcessor(self.jar), NoRedirect()]
        if Browser.ca_file:
            handlers.append(urllib.request.HTTPSHandler(
                context=ssl.create_default_context(cafile=str(Browser.ca_file))))
        self.opener = urllib.request.build_opener(*handlers)

    def fetch(self, url, data=None, headers=None):
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(url, data=body, headers=headers or {})
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.headers, response.read().decode(errors="replace")
        except urllib.error.HTTPError as err:
            return err.code, err.headers, err.read().decode(errors="replace")

    def cookie(self, name):
        return next((c for c in self.jar if c.name == name), None)


class Forms(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.forms = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append({"action": attrs.get("action", ""), "fields": {}})
        elif tag == "input" and self.forms and attrs.get("name"):
            self.forms[-1]["fields"][attrs["name"]] = attrs.get("value") or ""


def through_provider(server, browser, login):
    """Starts a sign-in and walks the provider (login form, consent) until it redirects
    back to Sentinella's callback; returns that callback URL, not yet visited."""
    status, headers, _ = browser.fetch(server.url + "/api/v1/session/oidc/start")
    assert status == 303, status
    url = headers["Location"]
    callback_prefix = server.url + "/api/v1/session/oidc/callback"
    for _ in range(20):
        if url.startswith(callback_prefix):
            return url
        status, headers, body = browser.fetch(url)
        while status == 200 and "<form" in body:
            parser = Forms()
            parser.feed(body)
            form = parser.forms[0]
            fields = dict(form["fields"])
            if "login" in fields:
                fields.update(login=login, password="any password")
            target = urllib.parse.urljoin(url, form["action"])
            status, headers, body = browser.fetch(target, data=fields)
            url = target
        assert status in (302, 303), (status, body[:500])
        url = urllib.parse.urljoin(url, headers["Location"])
    raise AssertionError("the provider never redirected back")


def sign_in(server, login):
    """The whole flow; returns (browser, status, headers) of the callback."""
    browser = Browser()
    callback = through_provider(server, browser, login)
    status, headers, _ = browser.fetch(callback)
    return browser, status, headers


def sso_error(headers):
    location = headers.get("Location", "")
    query = urllib.parse.parse_qs(urllib.parse.urlparse(location).query)
    return query.get("sso_error", [None])[0]


def audit(server, limit=200):
    status, body = server.request("GET", f"/api/v1/audit?limit={limit}")
    assert status == 200, body
    return body["entries"]


@pytest.fixture(scope="module")
def provider_deps():
    if shutil.which("node") is None:
        pytest.fail("node is needed (scripts/test installs the provider's packages)")
    if not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                       cwd=PROVIDER_DIR, check=True)


def make_test_ca(tmp_path):
    """A CA and a certificate for 127.0.0.1 it signed (openssl)."""
    def openssl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=tmp_path)
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Sentinella e2e CA")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "idp.key", "-out", "idp.csr", "-subj", "/CN=127.0.0.1")
    (tmp_path / "san.ext").write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
    openssl("x509", "-req", "-in", "idp.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "idp.pem", "-days", "2", "-extfile", "san.ext")
    return tmp_path / "ca.pem", tmp_path / "idp.pem", tmp_path / "idp.key"


@pytest.fixture(params=["http"])
def oidc_server(request, tmp_path, provider_deps):
    server = Server(tmp_path / "data", tmp_path / "server.log")
    provider_port = free_port()
    redirect_uri = server.url + "/api/v1/session/oidc/callback"
    provider_log = open(tmp_path / "provider.log", "w")
    env = dict(os.environ)
    ca_line = ""
    client_id = "sentinella"
    if request.param == "https":
        # Over TLS, the client whose ID tokens the provider signs with ES256.
        client_id = "sentinella-es256"
        ca, cert, key = make_test_ca(tmp_path)
        env.update(TLS_CERT=str(cert), TLS_KEY=str(key))
        ca_line = f'ca_file = "{ca}"'
        Browser.ca_file = ca
    provider = subprocess.Popen(
        ["node", "provider.mjs", str(provider_port), redirect_uri, CLIENT_SECRET],
        cwd=PROVIDER_DIR, stdout=subprocess.PIPE, stderr=provider_log, text=True, env=env)
    ready = provider.stdout.readline().strip()
    assert ready.startswith("ready "), (ready, (tmp_path / "provider.log").read_text())
    issuer = ready.split(" ", 1)[1]
    secret_file = tmp_path / "client-secret"
    secret_file.write_text(CLIENT_SECRET + "\n")
    config = tmp_path / "sentinella.toml"
    config.write_text(f"""
[auth.oidc]
display_name = "Comune IdP"
issuer = "{issuer}"
client_id = "{client_id}"
client_secret_file = "{secret_file}"
public_url = "{server.url}"
scopes = ["openid", "profile", "email", "groups"]
role_claim = "groups"
auto_provision = true
{ca_line}

[auth.oidc.role_map]
soc-admins = "admin"
soc-analysts = "analyst"
soc-viewers = "viewer"
""")
    server.extra_args = ["--config", str(config)]
    server.start()
    yield server
    Browser.ca_file = None
    server.stop()
    provider.terminate()
    provider.wait(timeout=30)
    provider_log.close()


def session_cookie(headers):
    cookies = headers.get_all("Set-Cookie") or []
    return next((c for c in cookies if c.startswith("sentinella_session=")), None)


def test_sign_in_maps_the_role_and_gives_a_normal_session(oidc_server):
    server = oidc_server
    status, body = server.request("GET", "/api/v1/session/oidc", token=False)
    assert status == 200 and body == {"enabled": True, "name": "Comune IdP"}, body

    browser = Browser()
    status, headers, _ = browser.fetch(server.url + "/api/v1/session/oidc/start")
    assert status == 303
    authorize = urllib.parse.urlparse(headers["Location"])
    params = urllib.parse.parse_qs(authorize.query)
    assert params["code_challenge_method"] == ["S256"]
    assert params["response_type"] == ["code"]
    assert "openid" in params["scope"][0].split()
    state_cookie = [c for c in headers.get_all("Set-Cookie") if c.startswith("sentinella_oidc=")][0]
    assert "HttpOnly" in state_cookie and "SameSite=Lax" in state_cookie, state_cookie
    assert state_cookie.split(";")[0] == "sentinella_oidc=" + params["state"][0]

    browser, status, headers = sign_in(server, "carla")
    assert status == 303 and headers["Location"] == "/ui/", (status, headers.get("Location"))
    cookie = session_cookie(headers)
    assert cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie, cookie
    # The same session as a password sign-in: who am I, CSRF on state changes, roles.
    me = browser.fetch(server.url + "/api/v1/session")
    assert me[0] == 200, me
    me_body = json.loads(me[2])
    assert me_body["user"]["name"] == "carla" and me_body["user"]["role"] == "analyst", me_body
    csrf = me_body["csrf"]
    status, _, _ = browser.fetch(server.url + "/api/v1/users")
    assert status == 403
    request = urllib.request.Request(
        server.url + "/api/v1/session/language", method="PUT",
        data=json.dumps({"language": "it"}).encode(),
        headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        browser.opener.open(request, timeout=30)
    assert refused.value.code == 403  # no CSRF token
    request.add_header("X-CSRF-Token", csrf)
    with browser.opener.open(request, timeout=30) as response:
        assert response.status == 200

    # An admin through the provider, too.
    browser, status, headers = sign_in(server, "alice")
    assert status == 303 and headers["Location"] == "/ui/"
    users = {u["name"]: u for u in json.loads(browser.fetch(server.url + "/api/v1/users")[2])["users"]}
    # Provisioned users are bound to the provider and have no password; the first admin
    # is a password user.
    issuer = next(e for e in audit(server) if e["action"] == "sign_in")["detail"]["issuer"]
    for name in ("carla", "alice"):
        assert users[name]["password"] is False and users[name]["oidc_issuer"] == issuer, users[name]
    assert users["admin"]["password"] is True and users["admin"]["oidc_issuer"] is None, users["admin"]
    listing = subprocess.run([BIN, "user", "list", "--data-dir", str(server.data_dir), "--server", server.url],
                             capture_output=True, text=True, timeout=120)
    assert listing.returncode == 0, listing.stderr
    assert re.search(r"^carla\s+analyst\s+active\s+oidc\s", listing.stdout, re.M), listing.stdout
    assert re.search(r"^admin\s+admin\s+active\s+password\s", listing.stdout, re.M), listing.stdout

    entries = audit(server)
    provisioned = [e for e in entries if e["action"] == "user_provisioned"]
    assert {e["target"]: e["detail"]["role"] for e in provisioned} == {"carla": "analyst", "alice": "admin"}
    sign_ins = [e for e in entries if e["action"] == "sign_in" and e["detail"].get("via") == "oidc"]
    assert {e["actor"] for e in sign_ins} == {"carla", "alice"}
    carla = next(e for e in sign_ins if e["actor"] == "carla")
    assert carla["detail"]["subject"] == "carla" and carla["detail"]["source"] == "127.0.0.1"
    assert "soc-analysts" in carla["detail"]["claims"]


def provider_hops(browser, url, stop_prefix, fields=None):
    """Follows redirects and the provider's forms (filled with `fields`) until a URL
    starting with `stop_prefix`; returns (that URL, whether a login form was shown)."""
    asked_login = False
    for _ in range(20):
        if url.startswith(stop_prefix):
            return url, asked_login
        status, headers, body = browser.fetch(url)
        while status == 200 and "<form" in body:
            parser = Forms()
            parser.feed(body)
            form = dict(parser.forms[0]["fields"])
            if "login" in form:
                asked_login = True
                return url, asked_login
            form.update(fields or {})
            target = urllib.parse.urljoin(url, parser.forms[0]["action"])
            status, headers, body = browser.fetch(target, data=form)
            url = target
        assert status in (302, 303), (status, body[:500])
        url = urllib.parse.urljoin(url, headers["Location"])
    raise AssertionError("the provider never redirected back")


def test_sign_out_ends_the_providers_session_too(oidc_server):
    """RP-initiated logout: signing out of an OIDC session answers the provider's
    end_session_endpoint (id_token_hint, client_id, post_logout_redirect_uri); following
    it ends the provider's session, so the next sign-in asks for a login again."""
    server = oidc_server
    browser, status, headers = sign_in(server, "carla")
    assert headers["Location"] == "/ui/"
    callback_prefix = server.url + "/api/v1/session/oidc/callback"
    # While the provider's session lives, a new sign-in goes straight through.
    status, headers, _ = browser.fetch(server.url + "/api/v1/session/oidc/start")
    assert status == 303
    _, asked = provider_hops(browser, headers["Location"], callback_prefix)
    assert not asked
    csrf = json.loads(browser.fetch(server.url + "/api/v1/session")[2])["csrf"]
    request = urllib.request.Request(server.url + "/api/v1/session", method="DELETE",
                                     headers={"X-CSRF-Token": csrf})
    with browser.opener.open(request, timeout=30) as response:
        answer = json.loads(response.read())
    assert answer["signed_out"] is True
    logout = urllib.parse.urlparse(answer["logout_url"])
    issuer = next(e for e in audit(server) if e["action"] == "sign_in")["detail"]["issuer"]
    assert answer["logout_url"].startswith(issuer + "/"), answer
    params = urllib.parse.parse_qs(logout.query)
    assert params["client_id"] == ["sentinella"]
    assert params["post_logout_redirect_uri"] == [server.url + "/ui/signin"]
    assert len(params["id_token_hint"][0].split(".")) == 3
    assert browser.fetch(server.url + "/api/v1/session")[0] == 401
    # The provider's confirmation page ("Yes, sign me out"), then back to the sign-in page.
    landed, _ = provider_hops(browser, answer["logout_url"], server.url + "/ui/signin",
                              fields={"logout": "yes"})
    assert landed.startswith(server.url + "/ui/signin"), landed
    # The provider's session is gone: the next sign-in shows its login form.
    status, headers, _ = browser.fetch(server.url + "/api/v1/session/oidc/start")
    assert status == 303
    _, asked = provider_hops(browser, headers["Location"], callback_prefix)
    assert asked
    # A password session has nothing to end at the provider.
    status, body = server.request("POST", "/api/v1/users",
                                  {"name": "pietro", "role": "viewer", "password": "pietro password 2026"})
    assert status == 200, body
    local = Browser()
    signed_in = urllib.request.Request(server.url + "/api/v1/session", method="POST",
                                       data=json.dumps({"user": "pietro", "password": "pietro password 2026"}).encode(),
                                       headers={"Content-Type": "application/json"})
    with local.opener.open(signed_in, timeout=30) as response:
        csrf = json.loads(response.read())["csrf"]
    request = urllib.request.Request(server.url + "/api/v1/session", method="DELETE",
                                     headers={"X-CSRF-Token": csrf})
    with local.opener.open(request, timeout=30) as response:
        assert json.loads(response.read())["logout_url"] is None


@pytest.mark.parametrize("oidc_server", ["https"], indirect=True)
def test_sign_in_over_https_with_the_providers_own_ca(oidc_server):
    """The provider over TLS, trusted through `ca_file` only (an internal CA); this client's
    ID tokens are ES256, verified with the EC key among the provider's RSA and EC keys."""
    _, status, headers = sign_in(oidc_server, "alice")
    assert status == 303 and headers["Location"] == "/ui/" and session_cookie(headers)
    entries = audit(oidc_server)
    sign_in_entry = next(e for e in entries if e["action"] == "sign_in")
    assert sign_in_entry["detail"]["issuer"].startswith("https://127.0.0.1:"), sign_in_entry


def test_wrong_state_other_browser_and_replays_are_refused(oidc_server):
    server = oidc_server
    victim = Browser()
    callback = through_provider(server, victim, "carla")
    parts = urllib.parse.urlparse(callback)
    query = urllib.parse.parse_qs(parts.query)

    # Another browser (no state cookie) cannot use the callback: login CSRF / stolen URL.
    status, headers, _ = Browser().fetch(callback)
    assert status == 303 and sso_error(headers) == "state" and not session_cookie(headers)
    # A tampered state, with the victim's own cookie.
    forged = callback.replace("state=" + urllib.parse.quote(query["state"][0], safe=""), "state=forged")
    assert forged != callback
    status, headers, _ = victim.fetch(forged)
    assert sso_error(headers) == "state" and not session_cookie(headers)

    # The real callback works once…
    status, headers, _ = victim.fetch(callback)
    assert status == 303 and headers["Location"] == "/ui/" and session_cookie(headers)
    # …and never again, even with the state cookie put back.
    status, headers, _ = victim.fetch(callback, headers={"Cookie": "sentinella_oidc=" + query["state"][0]})
    assert sso_error(headers) == "state" and not session_cookie(headers)

    # The victim's spent code under an attacker's own fresh state: the provider refuses
    # it (single-use code, and the attacker's PKCE verifier does not match).
    attacker = Browser()
    attacker_callback = through_provider(server, attacker, "ugo")
    attacker_state = urllib.parse.parse_qs(urllib.parse.urlparse(attacker_callback).query)["state"][0]
    replay = server.url + "/api/v1/session/oidc/callback?" + urllib.parse.urlencode(
        {"code": query["code"][0], "state": attacker_state})
    status, headers, _ = attacker.fetch(replay)
    assert sso_error(headers) == "provider" and not session_cookie(headers)

    failures = [e for e in audit(server) if e["action"] == "sign_in_failed" and e["detail"].get("via") == "oidc"]
    assert [e["detail"]["reason"] for e in failures] == ["provider"], failures
    # Bad states are not audited (anyone can send them); the provider failure is.
    assert "invalid_grant" in failures[0]["detail"]["error"], failures[0]


def test_unmapped_disabled_and_impostor_users_are_refused(oidc_server):
    server = oidc_server
    # No mapped group and no default role: refused, not provisioned.
    _, status, headers = sign_in(server, "ugo")
    assert status == 303 and sso_error(headers) == "unmapped" and not session_cookie(headers)
    status, _ = server.request("GET", "/api/v1/users/ugo")
    assert status == 404

    # Provisioned, then disabled by an admin: the provider's word no longer suffices.
    _, status, headers = sign_in(server, "dana")
    assert headers["Location"] == "/ui/"
    status, body = server.request("POST", "/api/v1/users/dana", {"disabled": True})
    assert status == 200, body
    _, status, headers = sign_in(server, "dana")
    assert sso_error(headers) == "disabled" and not session_cookie(headers)

    # Another subject claiming carla's user name cannot become carla.
    _, status, headers = sign_in(server, "carla")
    assert headers["Location"] == "/ui/"
    _, status, headers = sign_in(server, "carla-impostor")
    assert sso_error(headers) == "identity_mismatch" and not session_cookie(headers)

    entries = audit(server)
    reasons = [e["detail"]["reason"] for e in entries
               if e["action"] == "sign_in_failed" and e["detail"].get("via") == "oidc"]
    for reason in ("unmapped", "disabled", "identity_mismatch"):
        assert reason in reasons, reasons


def password_sign_in(server, user, password):
    request = urllib.request.Request(server.url + "/api/v1/session", method="POST",
                                     data=json.dumps({"user": user, "password": password}).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


def test_provider_only_users_get_a_local_password_only_by_explicit_override(oidc_server):
    """A provider-only user has no password: resetting one through the API or
    `sentinella user passwd` is refused (a second way in that the provider's MFA and
    offboarding do not govern) unless the admin says so explicitly, and that is audited."""
    server = oidc_server
    for login in ("carla", "alice"):
        _, _, headers = sign_in(server, login)
        assert headers["Location"] == "/ui/"
    before = len(audit(server))
    status, body = server.request("POST", "/api/v1/users/carla", {"password": "carla local password"})
    assert status == 409, body
    assert "signs in only through the OpenID Provider" in body["error"]["message"], body
    assert server.request("GET", "/api/v1/users/carla")[1]["user"]["password"] is False
    assert len(audit(server)) == before, "a refusal changes nothing"
    assert password_sign_in(server, "carla", "carla local password") == 401

    # The explicit override: a local password, audited as such.
    status, body = server.request("POST", "/api/v1/users/carla",
                                  {"password": "carla local password", "allow_local_password": True})
    assert status == 200 and body["user"]["password"] is True, body
    entry = next(e for e in audit(server) if e["action"] == "password_changed")
    assert entry["target"] == "carla" and entry["detail"] == {"local_password_for_provider_user": True}, entry
    assert password_sign_in(server, "carla", "carla local password") == 200

    # The CLI, through the running server: refused with the way out named, then allowed.
    def passwd(*flags):
        return subprocess.run([BIN, "user", "passwd", "alice", "--password-stdin", *flags,
                               "--data-dir", str(server.data_dir), "--server", server.url],
                              input="alice local password\n", capture_output=True, text=True, timeout=120)
    refused = passwd()
    assert refused.returncode != 0, refused.stdout
    assert "signs in only through the OpenID Provider" in refused.stderr, refused.stderr
    assert "--allow-local-password" in refused.stderr, refused.stderr
    assert server.request("GET", "/api/v1/users/alice")[1]["user"]["password"] is False
    allowed = passwd("--allow-local-password")
    assert allowed.returncode == 0, allowed.stderr
    assert password_sign_in(server, "alice", "alice local password") == 200
    entry = next(e for e in audit(server) if e["action"] == "password_changed")
    assert entry["target"] == "alice", entry
    assert entry["detail"] == {"local_password_for_provider_user": True}, entry


def test_console_button_and_errors_in_english_and_italian(oidc_server, tmp_path):
    """Headless Chromium (console/oidc.test.mjs): the button, the provider's form, back
    signed in; an unmapped user sees why, in Italian."""
    shots = Path(os.environ.get("CONSOLE_SCREENSHOTS") or tmp_path / "screenshots")
    env = dict(os.environ, SENTINELLA_URL=oidc_server.url, SCREENSHOTS=str(shots),
               CONSOLE_CONFIG=json.dumps({"user": "carla", "unmapped": "ugo", "admin": "alice"}))
    result = subprocess.run(["node", str(CONSOLE / "oidc.test.mjs")], cwd=CONSOLE, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{result.stderr}\n{result.stdout}\nscreenshots: {shots}"
    observed = json.loads(result.stdout.strip().splitlines()[-1])
    assert observed["buttonEn"] == "Sign in with Comune IdP", observed
    assert observed["buttonIt"] == "Accedi con Comune IdP", observed
    assert observed["whoami"].startswith("carla"), observed
    # Signed out at the provider too, back on the sign-in page; the provider asks again.
    assert observed["providerSignOutHost"] != urllib.parse.urlparse(oidc_server.url).netloc, observed
    assert observed["afterSignOut"] == "/ui/signin" and observed["loginAskedAgain"], observed
    assert "sso_error=unmapped" in observed["unmappedUrl"], observed
    assert observed["unmappedError"] == "Il tuo account non ha un ruolo in Sentinella. Rivolgiti a un amministratore.", observed
    # The Users page: who signs in with a password, who through the provider; no password
    # reset offered to provider-only users.
    issuer = next(e for e in audit(oidc_server) if e["action"] == "sign_in")["detail"]["issuer"]
    # Provider-bound users' roles come from the claim mapping at each sign-in: said next to
    # the role control.
    for key, header, note, role_note in (
            ("usersEn", "Sign-in", "Signs in through the provider: no password to reset",
             "Set again from the provider's claims at every sign-in"),
            ("usersIt", "Accesso", "Accede tramite il provider: nessuna password da reimpostare",
             "Reimpostato dagli attributi del provider a ogni accesso")):
        users = observed[key]
        assert header in users["header"], users
        rows = {row["name"]: row for row in users["rows"]}
        assert rows["admin"]["signIn"] == "Password" and rows["admin"]["resetOffered"], rows
        assert rows["admin"]["roleNote"] is None, rows
        for name in ("carla", "alice"):
            assert rows[name]["signIn"] == f"OIDC ({issuer})", rows
            assert not rows[name]["resetOffered"] and rows[name]["note"] == note, rows
            assert rows[name]["roleNote"] == role_note, rows


def test_without_configuration_the_routes_say_so(server):
    status, body = server.request("GET", "/api/v1/session/oidc", token=False)
    assert status == 200 and body == {"enabled": False}
    status, body = server.request("GET", "/api/v1/session/oidc/start", token=False)
    assert status == 404, body
    status, body = server.request("GET", "/api/v1/session/oidc/callback?code=x&state=y", token=False)
    assert status == 404, body
