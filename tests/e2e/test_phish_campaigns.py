"""The SOC side of the phishing loop, end to end.

Real clients and data: swaks forwards two real phishing messages of one campaign (they share
their landing page) from two employees to the SMTP intake, three more go through
`POST /api/v1/phish` (two of them a second campaign, by shared images); the reply relay is a real aiosmtpd server that requires STARTTLS (a
certificate made with openssl) and AUTH. Checked: campaigns and their detail, intake
counters (received, refused for size and recipient, analysed, answers sent), answers and a
review notice delivered over TLS with AUTH, indicators shared with intelligence, withdrawn
when an analyst overrides the reports (kept while another malicious report shares them) and
shared again on a new malicious verdict, with the audit trail. The console part
(console/phishing.test.mjs, headless Chromium) opens the Campaigns view, reads the analysis
details of a hostile message as text, and overrides a verdict with a notice to the reporter.
"""

import json
import os
import shutil
import ssl
import subprocess
import time
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from conftest import ROOT, SHARED, Server, free_port

CORPUS = SHARED / "email" / "phishing"
# Two real messages of one campaign: the same "parcel held" lure, the same landing page.
CAMPAIGN = [CORPUS / "sample-4452.eml", CORPUS / "sample-4464.eml"]
OTHER = CORPUS / "sample-1020.eml"
# Two real messages of another operation: different lures and senders, the same inline
# images (attachment hashes) and company links; submitted through the API.
IMAGES_CAMPAIGN = [CORPUS / "sample-1832.eml", CORPUS / "sample-1868.eml"]
LANDING_URL = "https://juliodedansk.icu/"
LANDING_HOST = "juliodedansk.icu"
MAILBOX = "phishing@comune-esempio.it"
RELAY_USER, RELAY_PASSWORD = "sentinella-relay", "relay pass 2026!"
CONSOLE = ROOT / "tests" / "e2e" / "console"

# Written by an attacker: markup in every field the analysis details show.
HOSTILE_EML = (
    "From: \"<img src=x onerror=alert(41)>\" <billing@pay-<b>now</b>.example>\r\n"
    "Reply-To: <svg onload=alert(42)>@collect.example\r\n"
    "To: staff@comune-esempio.it\r\n"
    "Subject: <script>alert(43)</script> invoice\r\n"
    "Received: from <img src=x onerror=alert(44)> (evil [203.0.113.9]) by mx.comune-esempio.it\r\n"
    "Date: Sun, 22 Nov 2026 10:00:00 +0000\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n"
    "--XX\r\n"
    "Content-Type: text/html; charset=utf-8\r\n\r\n"
    "<p>Pay now</p><a href=\"http://203.0.113.9/pay?<script>alert(45)</script>\">https://www.paypal.com/</a>\r\n"
    "<a href=\"javascript:alert(46)\">open</a>\r\n"
    "--XX\r\n"
    "Content-Type: application/octet-stream\r\n"
    "Content-Disposition: attachment; filename=\"<img src=x onerror=alert(47)>.pdf.exe\"\r\n"
    "Content-Transfer-Encoding: base64\r\n\r\n"
    "TVqQAAMAAAAEAAAA//8AALgAAAAAAAAAQAAAAAAAAAA=\r\n"
    "--XX--\r\n"
)


class Relay:
    """The reply relay: keeps every message with how the session was secured."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append({
            "rcpt": list(envelope.rcpt_tos),
            "tls": session.ssl is not None,
            "authenticated": bool(session.authenticated),
            "content": envelope.content,
        })
        return "250 OK"

    def wait_for(self, recipient, count=1, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            got = [m for m in self.messages if recipient in m["rcpt"]]
            if len(got) >= count:
                return got
            time.sleep(0.2)
        raise AssertionError(f"{count} message(s) for {recipient} expected; relay has {self.messages}")


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (isinstance(auth_data, LoginPassword) and auth_data.login == RELAY_USER.encode()
          and auth_data.password == RELAY_PASSWORD.encode())
    return AuthResult(success=ok)


def make_certificates(directory: Path):
    """A CA and a relay certificate for 127.0.0.1 signed by it (openssl CLI)."""
    def run(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=directory)
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=Test relay CA",
        "-keyout", "ca.key", "-out", "ca.pem")
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "relay.key", "-out", "relay.csr")
    (directory / "ext.cnf").write_text("basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\n"
                                       "extendedKeyUsage=serverAuth\n")
    run("x509", "-req", "-in", "relay.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-days", "2", "-extfile", "ext.cnf", "-out", "relay.pem")
    return directory / "ca.pem", directory / "relay.pem", directory / "relay.key"


def start_soc(tmp_path, auth_exclude=()):
    ca, cert, key = make_certificates(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    relay = Relay()
    relay_port = free_port()
    controller = Controller(relay, hostname="127.0.0.1", port=relay_port, tls_context=context,
                            require_starttls=True, authenticator=authenticator, auth_required=True,
                            auth_require_tls=True, auth_exclude_mechanism=list(auth_exclude))
    controller.start()
    password_file = tmp_path / "relay.password"
    password_file.write_text(RELAY_PASSWORD + "\n")
    smtp_port = free_port()
    config = tmp_path / "sentinella.toml"
    config.write_text(
        "[phish]\n"
        'own_domains = ["comune-esempio.it"]\n'
        f'relay = "127.0.0.1:{relay_port}"\n'
        'relay_tls = "starttls"\n'
        f'relay_ca_file = "{ca}"\n'
        f'relay_username = "{RELAY_USER}"\n'
        f'relay_password_file = "{password_file}"\n'
        f'reply_from = "{MAILBOX}"\n'
        "[phish.smtp]\n"
        f'listen = "127.0.0.1:{smtp_port}"\n'
        "max_message_bytes = 400000\n"
        f'recipients = ["{MAILBOX}"]\n'
    )
    server = Server(tmp_path / "data", tmp_path / "server.log", ["--config", str(config)]).start()
    server.smtp_port = smtp_port
    return server, relay, controller


@pytest.fixture
def soc(tmp_path):
    server, relay, controller = start_soc(tmp_path)
    yield server, relay, tmp_path
    server.stop()
    controller.stop()


def swaks(port, *args):
    return subprocess.run(["swaks", "--server", f"127.0.0.1:{port}", "--timeout", "60", *args],
                          capture_output=True, text=True, timeout=120)


def forward(server, reporter, eml):
    """An employee forwards a suspicious message as an attachment (message/rfc822)."""
    result = swaks(server.smtp_port, "--from", reporter, "--to", MAILBOX, "--header",
                   "Subject: Fwd: suspicious", "--body", "This looks like phishing, please check.",
                   "--attach-type", "message/rfc822", "--attach", f"@{eml}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "250 ok: report received" in result.stdout


def wait_reports(server, n, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        status, body = server.request("GET", "/api/v1/phish/reports")
        if status == 200 and len(body["reports"]) >= n:
            return body["reports"]
        time.sleep(0.2)
    raise AssertionError(f"{n} reports expected: {body}")


def indicator(server, kind, value):
    status, body = server.request("GET", f"/api/v1/intel/indicators?kind={kind}&value={value}")
    assert status == 200, body
    found = [i for i in body["indicators"] if i["value"] == value]
    return found[0] if found else None


def wait_indicator(server, kind, value, tag, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = indicator(server, kind, value)
        if found and tag in found.get("tags", []):
            return found
        time.sleep(0.2)
    raise AssertionError(f"{kind} {value} with {tag} not in intel: {indicator(server, kind, value)}")


def override(server, report_id, verdict, notify=False):
    status, body = server.request("POST", f"/api/v1/phish/reports/{report_id}/override",
                                  {"verdict": verdict, "comment": f"review to {verdict}", "notify": notify})
    assert status == 200, body
    return body


def is_active(found):
    return found is not None and not found.get("withdrawn", False)


def test_campaigns_intel_withdrawal_stats_and_relay_tls(soc):
    server, relay, tmp_path = soc
    forward(server, "anna.bianchi@comune-esempio.it", CAMPAIGN[0])
    forward(server, "luca.verdi@comune-esempio.it", CAMPAIGN[1])
    status, other = server.request("POST", "/api/v1/phish", body=OTHER.read_bytes())
    assert status == 200, other
    by_api = []
    for eml in IMAGES_CAMPAIGN:
        status, report = server.request("POST", "/api/v1/phish", body=eml.read_bytes())
        assert status == 200, report
        by_api.append(report["id"])

    # Refused at the intake: a recipient the listener does not serve, a message too large.
    wrong = swaks(server.smtp_port, "--from", "x@comune-esempio.it", "--to", "ceo@comune-esempio.it",
                  "--body", "hello")
    assert "550" in wrong.stdout, wrong.stdout
    big = tmp_path / "big.txt"
    big.write_text("A" * 500_000)
    too_big = swaks(server.smtp_port, "--from", "x@comune-esempio.it", "--to", MAILBOX,
                    "--attach", f"@{big}")
    assert "552" in too_big.stdout, too_big.stdout

    reports = wait_reports(server, 5)
    by_reporter = {r["reporter"]: r for r in reports}
    first, second = by_reporter["anna.bianchi@comune-esempio.it"], by_reporter["luca.verdi@comune-esempio.it"]
    assert first["verdict"] == second["verdict"] == "malicious", reports

    # Answers to both employees, through the relay over STARTTLS with AUTH.
    for reporter in ("anna.bianchi@comune-esempio.it", "luca.verdi@comune-esempio.it"):
        answer = relay.wait_for(reporter)[0]
        assert answer["tls"] and answer["authenticated"], answer
        assert b"X-Sentinella-Verdict: malicious" in answer["content"]

    # The two forwarded messages form one campaign; the API message is not in it.
    status, body = server.request("GET", "/api/v1/phish/campaigns")
    assert status == 200, body
    campaigns = [c for c in body["campaigns"] if first["id"] in c["reports"]]
    assert len(campaigns) == 1, body
    campaign = campaigns[0]
    assert sorted(campaign["reports"]) == sorted([first["id"], second["id"]]), campaign
    assert other["id"] not in campaign["reports"]
    # The API pair is its own campaign, grouped by the images they share.
    images = [c for c in body["campaigns"] if by_api[0] in c["reports"]]
    assert len(images) == 1 and sorted(images[0]["reports"]) == sorted(by_api), body
    assert any(s["kind"] == "sha256" and s["strong"] for s in images[0]["shared"]), images[0]
    assert len(body["campaigns"]) == 2, body
    shared = {(s["kind"], s["value"]) for s in campaign["shared"]}
    assert ("url", LANDING_URL) in shared and ("host", LANDING_HOST) in shared, campaign["shared"]
    assert campaign["reporters"] == 2 and campaign["verdicts"] == {"malicious": 2}
    assert campaign["first_seen"] <= campaign["last_seen"]
    assert campaign["id"] == min(first["id"], second["id"])
    status, detail = server.request("GET", f"/api/v1/phish/campaigns/{campaign['id']}")
    assert status == 200, detail
    assert sorted(r["id"] for r in detail["report_details"]) == sorted(campaign["reports"])
    assert all(r["subject"] for r in detail["report_details"])
    assert server.request("GET", "/api/v1/phish/campaigns/0000000000ff-0001")[0] == 404
    assert server.request("GET", "/api/v1/phish/campaigns", token=False)[0] == 401

    # Intake counters.
    deadline = time.time() + 30
    while time.time() < deadline:
        status, stats = server.request("GET", "/api/v1/phish/stats")
        if stats["replies"]["sent"] >= 2:
            break
        time.sleep(0.2)
    assert stats["received"] == {"smtp": 2, "api": 3}, stats
    assert stats["refused"]["recipient"] >= 1 and stats["refused"]["size"] >= 1, stats
    assert stats["analysed"] == 5 and stats["verdicts"]["malicious"] >= 2, stats
    assert stats["replies"] == {"sent": 2, "failed": 0}, stats

    # Both reports shared the landing page with intelligence (TLP:AMBER, tagged).
    for report in (first, second):
        found = wait_indicator(server, "url", LANDING_URL, f"phish-report:{report['id']}")
    assert found["tlp"] == "amber" and "phishing-report" in found["sources"], found

    # An analyst clears the first report: its values stay, the second still shares them.
    answer = override(server, first["id"], "likely_safe")
    assert answer["intel"]["withdrawn"] == [], answer
    assert LANDING_URL in [value for value, _ in answer["intel"]["kept"]], answer
    assert all(other_id == second["id"] for _, other_id in answer["intel"]["kept"])
    assert is_active(indicator(server, "url", LANDING_URL))
    # Clearing the second too withdraws them, and tells its reporter (over TLS, with AUTH).
    answer = override(server, second["id"], "likely_safe", notify=True)
    assert LANDING_URL in answer["intel"]["withdrawn"] and LANDING_HOST in answer["intel"]["withdrawn"], answer
    assert answer["notice"] == "queued", answer
    assert not is_active(indicator(server, "url", LANDING_URL))
    assert not is_active(indicator(server, "domain", LANDING_HOST))
    notice = relay.wait_for("luca.verdi@comune-esempio.it", count=2)[1]
    assert notice["tls"] and notice["authenticated"]
    assert b"X-Sentinella-Verdict: likely_safe" in notice["content"], notice
    # Malicious again: shared again.
    answer = override(server, second["id"], "malicious")
    assert "shared" in answer["intel"], answer
    assert is_active(indicator(server, "url", LANDING_URL))
    assert is_active(indicator(server, "domain", LANDING_HOST))

    # Audited, with what happened to intelligence.
    status, audit = server.request("GET", "/api/v1/audit?limit=100")
    entries = [e for e in audit["entries"] if e["action"] == "phish.override"]
    assert len(entries) == 3, entries
    withdrawal = [e for e in entries if e["target"] == second["id"] and e["detail"]["intel"] and "withdrawn" in e["detail"]["intel"]]
    assert withdrawal and LANDING_URL in withdrawal[0]["detail"]["intel"]["withdrawn"], entries
    status, stats = server.request("GET", "/api/v1/phish/stats")
    assert stats["notices"]["sent"] == 1, stats
    # The same counters for Prometheus.
    status, metrics = server.request("GET", "/metrics")
    assert status == 200
    assert 'phish_reports_received_total{channel="smtp"} 2' in metrics, metrics[-2000:]
    assert 'phish_reports_received_total{channel="api"} 3' in metrics
    assert 'phish_reporter_messages_total{kind="answer",outcome="sent"} 2' in metrics
    assert 'phish_reporter_messages_total{kind="notice",outcome="sent"} 1' in metrics


assert shutil.which("node"), "node is needed for the console tests"


def test_console_campaigns_details_and_override(soc):
    server, relay, tmp_path = soc
    forward(server, "anna.bianchi@comune-esempio.it", CAMPAIGN[0])
    forward(server, "luca.verdi@comune-esempio.it", CAMPAIGN[1])
    status, hostile = server.request("POST", "/api/v1/phish", body=HOSTILE_EML.encode())
    assert status == 200, hostile
    wait_reports(server, 3)
    one_time = (server.data_dir / "initial-admin-password").read_text().strip()
    shots = Path(os.environ.get("CONSOLE_SCREENSHOTS") or tmp_path / "screenshots")
    config = {"adminOneTime": one_time, "adminPassword": "new admin password 2026",
              "hostileId": hostile["id"]}
    env = dict(os.environ, SENTINELLA_URL=server.url, SCREENSHOTS=str(shots), CONSOLE_CONFIG=json.dumps(config))
    result = subprocess.run(["node", str(CONSOLE / "phishing.test.mjs")], cwd=CONSOLE, env=env,
                            capture_output=True, text=True, timeout=600)
    observed = json.loads(result.stdout.strip().splitlines()[-1]) if result.stdout.strip() else {}
    assert result.returncode == 0, f"{result.stderr}\nobserved: {json.dumps(observed)[:3000]}\nscreenshots: {shots}"

    assert observed["dialogs"] == []
    # The Campaigns view lists the campaign; its detail shows both reports and what they share.
    assert observed["campaignRows"] == 1, observed
    assert observed["campaignReports"] == 2, observed
    assert any(LANDING_HOST in chip for chip in observed["campaignShared"]), observed
    assert observed["campaignReporters"] == "2"
    # Attacker-written analysis details render as text.
    details = observed["hostileDetails"]
    assert "<img src=x onerror=alert(47)>.pdf.exe" in details, details
    # The link with markup in its query, as the analyzer extracted it (percent-encoded).
    assert "http://203.0.113.9/pay?%3Cscript" in details, details
    assert "the attachment <img src=x onerror=alert(47)>.pdf.exe" in details, details
    assert observed["hostileSubject"] == "<script>alert(43)</script> invoice"
    assert observed["attachmentRows"] >= 1 and observed["linkItems"] >= 1, observed
    assert "DKIM" in observed["authText"] and "SPF" in observed["authText"]
    # The override with a notice to the reporter.
    assert observed["afterOverride"] == "Likely safe", observed
    assert observed["notice"] == "Reporter notice: queued", observed
    # The intake counters on the page.
    assert observed["statsReceived"] == "3", observed
    notice = relay.wait_for("luca.verdi@comune-esempio.it", count=2)[1]
    assert b"X-Sentinella-Verdict: likely_safe" in notice["content"]
    assert observed["italianStats"].startswith("Ricezione dal"), observed
    assert observed["italianCampaign"] == "Campagna di 2 segnalazioni", observed
    for name in ("p1-campaigns", "p2-campaign-detail", "p3-hostile-details", "p4-override", "p5-campaign-it"):
        assert (shots / f"{name}.png").stat().st_size > 10_000, name


def test_relay_offering_only_auth_login(tmp_path):
    """AUTH LOGIN when the relay does not offer PLAIN; still only after STARTTLS."""
    server, relay, controller = start_soc(tmp_path, auth_exclude=("PLAIN",))
    try:
        forward(server, "anna.bianchi@comune-esempio.it", CAMPAIGN[0])
        answer = relay.wait_for("anna.bianchi@comune-esempio.it")[0]
        assert answer["tls"] and answer["authenticated"], answer
        status, stats = server.request("GET", "/api/v1/phish/stats")
        assert stats["replies"]["failed"] == 0, stats
    finally:
        server.stop()
        controller.stop()
