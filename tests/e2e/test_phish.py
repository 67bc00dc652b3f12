"""Phishing reports end to end: swaks forwards suspicious mail to the SMTP intake (as an
attachment and inline), Sentinella analyses and keeps it and answers the reporter through a
relay (a real aiosmtpd server), in the reporter's language; the API takes raw .eml files,
lists reports and lets an analyst override a verdict (audited); the CLI analyses folders."""

import email
import email.policy
import json
import subprocess
import time
import urllib.parse
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from conftest import BIN, SHARED, Server, free_port

PHISHING = (
    "From: PayPal Service <service@paypa1-secure.top>\r\n"
    "To: mario.rossi@comune-esempio.it\r\n"
    "Subject: Your account has been suspended\r\n"
    "Message-ID: <lure-1@paypa1-secure.top>\r\n"
    "Date: Mon, 2 Nov 2026 09:00:00 +0000\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/html; charset=utf-8\r\n"
    "\r\n"
    "<p>Your account has been suspended. Verify your account within 24 hours:</p>\r\n"
    "<a href=\"http://192.0.2.44/paypal/login.php\">https://www.paypal.com/signin</a>\r\n"
)


class Sink:
    """The relay: keeps every message it is handed."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"

    def wait_for(self, recipient, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for mail_from, rcpts, content in self.messages:
                if recipient in rcpts:
                    return email.message_from_bytes(content, policy=email.policy.default)
            time.sleep(0.2)
        raise AssertionError(f"no answer to {recipient}; relay got {len(self.messages)} messages")


@pytest.fixture
def desk(tmp_path):
    sink = Sink()
    relay_port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=relay_port)
    controller.start()
    smtp_port = free_port()
    config = tmp_path / "sentinella.toml"
    config.write_text(
        "[phish]\n"
        'own_domains = ["comune-esempio.it"]\n'
        f'relay = "127.0.0.1:{relay_port}"\n'
        'reply_from = "phishing@comune-esempio.it"\n'
        f'yara_dir = "{SHARED / "yara" / "signature-base"}"\n'
        "[phish.smtp]\n"
        f'listen = "127.0.0.1:{smtp_port}"\n'
        "max_message_bytes = 2000000\n"
        'recipients = ["phishing@comune-esempio.it"]\n'
    )
    server = Server(tmp_path / "data", tmp_path / "server.log", ["--config", str(config)]).start()
    server.smtp_port = smtp_port
    yield server, sink, tmp_path
    server.stop()
    controller.stop()


def swaks(port, *args):
    return subprocess.run(
        ["swaks", "--server", f"127.0.0.1:{port}", "--to", "phishing@comune-esempio.it", *args],
        capture_output=True, text=True, timeout=120,
    )


def reports(server):
    status, body = server.request("GET", "/api/v1/phish/reports")
    assert status == 200, body
    return body["reports"]


def test_forward_as_attachment_gets_an_italian_answer(desk):
    server, sink, tmp = desk
    lure = tmp / "lure.eml"
    lure.write_bytes(PHISHING.encode())
    result = swaks(
        server.smtp_port,
        "--from", "mario.rossi@comune-esempio.it",
        "--header", "Subject: Segnalazione: messaggio sospetto",
        "--body", "Ciao, ho ricevuto questo messaggio e mi sembra sospetto. Grazie",
        "--attach-type", "message/rfc822", "--attach-name", "lure.eml", "--attach", f"@{lure}",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "250 ok: report received" in result.stdout
    answer = sink.wait_for("mario.rossi@comune-esempio.it")
    assert answer["X-Sentinella-Verdict"] == "malicious"
    assert answer["Content-Language"] == "it"
    assert "Esito segnalazione: MALEVOLO" in answer["Subject"]
    text = answer.get_content()
    assert "Motivi:" in text and "192.0.2.44" in text, text
    [stored] = reports(server)
    assert stored["forwarding"] == "attached"
    assert stored["reporter"] == "mario.rossi@comune-esempio.it"
    assert stored["verdict"] == "malicious"
    assert stored["subject"] == "Your account has been suspended"
    # The reply is recorded on the report.
    deadline = time.time() + 30
    while time.time() < deadline and not reports(server)[0].get("reply"):
        time.sleep(0.2)
    assert reports(server)[0]["reply"]["sent"] is True


def test_inline_forward_gets_an_english_answer(desk):
    server, sink, _ = desk
    body = (
        "Hello, I received this, is it real? Thanks\n\n"
        "---------- Forwarded message ---------\n"
        "From: PayPal Service <service@paypa1-secure.top>\n"
        "Date: Mon, 2 Nov 2026 09:00:00 +0000\n"
        "Subject: Your account has been suspended\n"
        "To: <anna@comune-esempio.it>\n\n"
        "Your account has been suspended. Verify your account within 24 hours at http://192.0.2.44/paypal/login.php\n"
    )
    result = swaks(server.smtp_port, "--from", "anna@comune-esempio.it", "--header", "Subject: Fwd: Your account has been suspended", "--body", body)
    assert result.returncode == 0, result.stdout + result.stderr
    answer = sink.wait_for("anna@comune-esempio.it")
    assert answer["Content-Language"] == "en"
    assert answer["Subject"].startswith("Report result: ")
    assert answer["X-Sentinella-Verdict"] in ("malicious", "suspicious")
    assert "Reasons:" in answer.get_content()
    [stored] = reports(server)
    assert stored["forwarding"] == "inline"


def test_smtp_limits(desk):
    server, sink, tmp = desk
    big = tmp / "big.bin"
    big.write_bytes(b"A" * 3_000_000)
    result = swaks(server.smtp_port, "--from", "a@comune-esempio.it", "--attach", f"@{big}")
    assert result.returncode != 0
    assert "552" in result.stdout, result.stdout
    wrong = subprocess.run(
        ["swaks", "--server", f"127.0.0.1:{server.smtp_port}", "--to", "someone@elsewhere.example", "--from", "a@b.example"],
        capture_output=True, text=True, timeout=60,
    )
    assert wrong.returncode != 0 and "550" in wrong.stdout
    assert reports(server) == []
    assert sink.messages == []


def test_api_submit_list_and_audited_override(desk):
    server, _, _ = desk
    status, body = server.request("POST", "/api/v1/phish?lang=it", body=PHISHING.encode(), headers={"Content-Type": "message/rfc822"})
    assert status == 200, body
    assert body["verdict"] == "malicious"
    assert body["score"] >= 8
    assert any("192.0.2.44" in reason for reason in body["reasons"])
    assert body["analysis"]["indicators"]["urls"]
    report_id = body["id"]
    sample = sorted((SHARED / "email" / "ham").glob("*.eml"))[0]
    status, ham = server.request("POST", "/api/v1/phish", body=sample.read_bytes())
    assert status == 200, ham
    assert ham["verdict"] == "likely_safe", ham["reasons"]

    status, one = server.request("GET", f"/api/v1/phish/reports/{report_id}")
    assert status == 200 and one["id"] == report_id
    status, missing = server.request("GET", "/api/v1/phish/reports/../../etc")
    assert status == 404

    status, changed = server.request(
        "POST", f"/api/v1/phish/reports/{report_id}/override",
        body=json.dumps({"verdict": "suspicious", "comment": "training campaign"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert status == 200, changed
    assert changed["verdict"] == "suspicious" and changed["automatic_verdict"] == "malicious"
    assert changed["overrides"][0]["actor"] and changed["overrides"][0]["comment"] == "training campaign"
    status, audit = server.request("GET", "/api/v1/audit")
    assert status == 200, audit
    entries = audit.get("entries", audit) if isinstance(audit, dict) else audit
    assert any(e.get("action") == "phish.override" and e.get("target") == report_id for e in entries), entries

    status, _ = server.request("POST", "/api/v1/phish", body=PHISHING.encode(), token=False)
    assert status == 401


def test_yara_signature_base_over_attachments(desk):
    server, _, _ = desk
    import base64, io, zipfile
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("Fattura_2026.lnk", b"L\x00\x00\x00\x01\x14\x02\x00" + b"\x00" * 600)
    encoded = base64.encodebytes(buffer.getvalue()).decode()
    message = (
        "From: Ufficio Fatture <fatture@fornitore.example>\r\nSubject: Fattura\r\nMessage-ID: <z@x>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"B\"\r\n\r\n"
        "--B\r\nContent-Type: text/plain\r\n\r\nIn allegato la fattura.\r\n"
        "--B\r\nContent-Type: application/zip; name=\"fattura.zip\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        f"{encoded}\r\n--B--\r\n"
    )
    status, body = server.request("POST", "/api/v1/phish", body=message.encode())
    assert status == 200, body
    yara = [f for f in body["analysis"]["findings"] if f["code"] == "attachment.yara"]
    assert yara and "SUSP_ZIP_LNK_PhishAttachment_Pattern_Jun22_1 (by Florian Roth" in yara[0]["en"], body["analysis"]["findings"]
    assert body["verdict"] == "malicious"


def test_starttls_intake(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "2", "-subj", "/CN=localhost"],
        check=True, capture_output=True,
    )
    smtp_port = free_port()
    config = tmp_path / "tls.toml"
    config.write_text(
        "[phish.smtp]\n"
        f'listen = "127.0.0.1:{smtp_port}"\n'
        "[phish.smtp.tls]\n"
        f'cert_path = "{cert}"\n'
        f'key_path = "{key}"\n'
    )
    server = Server(tmp_path / "data", tmp_path / "server.log", ["--config", str(config)]).start()
    try:
        lure = tmp_path / "lure.eml"
        lure.write_bytes(PHISHING.encode())
        result = swaks(smtp_port, "--from", "a@comune-esempio.it", "--tls",
                       "--attach-type", "message/rfc822", "--attach", f"@{lure}")
        assert result.returncode == 0, result.stdout + result.stderr
        assert "STARTTLS" in result.stdout and "TLS started" in result.stdout, result.stdout
        [stored] = reports(server)
        assert stored["verdict"] == "malicious"
    finally:
        server.stop()


def test_cli_analyze_json(tmp_path):
    folder = tmp_path / "mail"
    folder.mkdir()
    (folder / "lure.eml").write_bytes(PHISHING.encode())
    for sample in sorted((SHARED / "email" / "ham").glob("*.eml"))[:3]:
        (folder / sample.name).write_bytes(sample.read_bytes())
    out = subprocess.run([BIN, "phish", "analyze", "--json", str(folder)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    messages = [line for line in lines if "file" in line]
    assert len(messages) == 4
    for line in messages:
        assert line["verdict"] in ("malicious", "suspicious", "likely_safe")
        assert isinstance(line["score"], int) and isinstance(line["reasons"], list)
    lure = next(line for line in messages if line["file"].endswith("lure.eml"))
    assert lure["verdict"] == "malicious"
    assert lines[-1]["summary"]["messages"] == 4


def wait_for(fetch, timeout=30):
    """Polls `fetch` until it returns something truthy (background work: no timing claims)."""
    deadline = time.time() + timeout
    result = fetch()
    while not result and time.time() < deadline:
        time.sleep(0.2)
        result = fetch()
    return result


def test_malicious_report_feeds_intel_and_later_traffic_alerts(desk):
    server, _, _ = desk
    # A real phishing message (phishing_pot) the analyzer judges malicious: a spoofed
    # Costco sender whose links go to thebandalisty.com.
    sample = SHARED / "email" / "phishing" / "sample-1020.eml"
    status, report = server.request("POST", "/api/v1/phish", body=sample.read_bytes())
    assert status == 200, report
    assert report["verdict"] == "malicious", report["reasons"]
    domain = "thebandalisty.com"
    assert domain in report["analysis"]["indicators"]["domains"]

    def indicators(kind, value):
        status, body = server.request("GET", f"/api/v1/intel/indicators?kind={kind}&value={value}")
        assert status == 200, body
        return body["indicators"]

    [indicator] = wait_for(lambda: indicators("domain", domain))
    assert indicator["value"] == domain
    assert indicator["tlp"] == "amber"
    assert indicator["sources"] == ["phishing-report"]
    assert f"phish-report:{report['id']}" in indicator["tags"]
    assert 60 <= indicator["confidence"] < 100
    urls = indicators("url", domain)
    assert {u["value"] for u in urls} == set(report["analysis"]["indicators"]["urls"])
    assert all(u["tlp"] == "amber" for u in urls)
    # The spoofed sender (DMARC failed at the receiver) is a victim, not an indicator; the
    # Return-Path domain is the sender's own infrastructure.
    assert indicators("domain", "costco.com") == []
    assert [i["value"] for i in indicators("domain", "oqmhwr.net")] == ["oqmhwr.net"]

    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    events = [
        {"@timestamp": now, "host": {"name": "ws-7"}, "dns": {"question": {"name": domain}}},
        {"@timestamp": now, "host": {"name": "proxy-1"}, "url": {"domain": domain, "path": "/rd/x"}},
    ]
    status, body = server.request("POST", "/api/v1/ingest", events)
    assert status in (200, 202), body

    def alerts():
        status, body = server.request("GET", "/api/v1/alerts?q=" + urllib.parse.quote(f"threat.indicator.url.domain:{domain}"))
        assert status == 200, body
        return body if body["total"] >= 2 else None

    found = wait_for(alerts)
    assert found, "no intel alert for traffic to the reported domain"
    hosts = {hit["host"]["name"] for hit in found["hits"]}
    assert hosts == {"ws-7", "proxy-1"}, found["hits"]
    assert all(hit["rule"]["ruleset"] == "intel" for hit in found["hits"])
    assert all(hit["threat"]["indicator"]["marking"]["tlp"] == "AMBER" for hit in found["hits"])


def test_intel_tlp_is_configurable(tmp_path):
    config = tmp_path / "sentinella.toml"
    config.write_text('[phish]\nintel_tlp = "green"\n')
    server = Server(tmp_path / "data", tmp_path / "server.log", ["--config", str(config)]).start()
    try:
        sample = SHARED / "email" / "phishing" / "sample-1020.eml"
        status, report = server.request("POST", "/api/v1/phish", body=sample.read_bytes())
        assert status == 200 and report["verdict"] == "malicious", report

        def shared():
            status, body = server.request("GET", "/api/v1/intel/indicators?kind=domain&value=thebandalisty.com")
            assert status == 200, body
            return body["indicators"]

        [indicator] = wait_for(shared)
        assert indicator["tlp"] == "green"
    finally:
        server.stop()
    bad = tmp_path / "bad.toml"
    bad.write_text('[phish]\nintel_tlp = "purple"\n')
    result = subprocess.run([BIN, "serve", "--config", str(bad), "--data-dir", str(tmp_path / "d2")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "intel_tlp" in result.stderr, result.stderr


def test_override_notifies_the_reporter_in_their_language(desk):
    server, sink, tmp = desk
    lure = tmp / "lure.eml"
    lure.write_bytes(PHISHING.encode())
    result = swaks(
        server.smtp_port,
        "--from", "mario.rossi@comune-esempio.it",
        "--header", "Subject: Segnalazione: messaggio sospetto",
        "--body", "Ciao, ho ricevuto questo messaggio e mi sembra sospetto. Grazie",
        "--attach-type", "message/rfc822", "--attach-name", "lure.eml", "--attach", f"@{lure}",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    sink.wait_for("mario.rossi@comune-esempio.it")
    [stored] = reports(server)
    status, changed = server.request(
        "POST", f"/api/v1/phish/reports/{stored['id']}/override",
        body={"verdict": "likely_safe", "comment": "internal: authorised phishing simulation", "notify": True},
    )
    assert status == 200, changed
    assert changed["notice"] == "queued", changed

    def notice():
        for _, rcpts, content in sink.messages:
            message = email.message_from_bytes(content, policy=email.policy.default)
            if "mario.rossi@comune-esempio.it" in rcpts and message["Subject"].startswith("Segnalazione riesaminata"):
                return message
        return None

    message = wait_for(notice, timeout=60)
    assert message, [m[2][:200] for m in sink.messages]
    assert message["Content-Language"] == "it"
    assert message["X-Sentinella-Verdict"] == "likely_safe"
    assert "PROBABILMENTE SICURO" in message["Subject"]
    text = message.get_content()
    assert "ha riesaminato" in text and stored["id"] in text, text
    # The analyst's comment is internal: never sent to the reporter.
    assert "simulation" not in text
    # The notice is recorded on the report.
    recorded = wait_for(lambda: reports(server)[0]["notices"])
    assert recorded[0]["sent"] is True and recorded[0]["language"] == "it"

    # Without notify nothing more is sent; API reporters (no address) cannot be notified.
    before = len(sink.messages)
    status, changed = server.request("POST", f"/api/v1/phish/reports/{stored['id']}/override",
                                     body={"verdict": "suspicious"})
    assert status == 200 and "notice" not in changed, changed
    status, api_report = server.request("POST", "/api/v1/phish", body=PHISHING.encode())
    assert status == 200, api_report
    status, changed = server.request("POST", f"/api/v1/phish/reports/{api_report['id']}/override",
                                     body={"verdict": "suspicious", "notify": True})
    assert status == 200 and changed["notice"].startswith("not sent:"), changed
    assert len(sink.messages) == before


def test_analyst_confirming_malicious_shares_the_indicators(desk):
    server, _, _ = desk
    quiet = (
        "From: Ufficio Tributi <tributi@servizi-tributi.example>\r\n"
        "To: anna@comune-esempio.it\r\nSubject: Documento\r\nMessage-ID: <q-1@servizi-tributi.example>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        "Buongiorno, il documento richiesto: https://docs.servizi-tributi.example/d/Ab12\r\n"
    )
    status, report = server.request("POST", "/api/v1/phish", body=quiet.encode())
    assert status == 200, report
    assert report["verdict"] != "malicious", report["reasons"]
    status, body = server.request("GET", "/api/v1/intel/indicators?value=servizi-tributi.example")
    assert status == 200 and body["total"] == 0, body
    status, changed = server.request("POST", f"/api/v1/phish/reports/{report['id']}/override",
                                     body={"verdict": "malicious", "comment": "credential harvesting"})
    assert status == 200, changed

    def shared():
        status, body = server.request("GET", "/api/v1/intel/indicators?value=servizi-tributi.example")
        assert status == 200, body
        return body["indicators"]

    found = wait_for(shared)
    assert {(i["kind"], i["value"]) for i in found} >= {
        ("url", "https://docs.servizi-tributi.example/d/Ab12"), ("domain", "docs.servizi-tributi.example")}, found
    assert all(i["confidence"] == 85 and i["tlp"] == "amber" for i in found), found
