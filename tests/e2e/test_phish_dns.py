"""Live DNS for the phishing analyzer's own DKIM, SPF and DMARC checks, against a real
authoritative DNS server on loopback (dnslib): a message DKIM-signed in the test (openssl
key, dkimpy signature) passes DKIM, SPF and DMARC verified live through the server's
resolver (`[phish] dns = "system"`, `dns_servers`); a tampered body fails DKIM and DMARC with
the reasons; a DNS server that never answers gives "not verified (DNS timeout)" after the
configured `dns_timeout_ms`, not a false failure and not a hang."""

import base64
import json
import os
import socket
import subprocess
import threading
import time
from pathlib import Path

import dkim
import pytest
from dnslib import QTYPE, RCODE, RR, SOA, TXT, DNSLabel
from dnslib.server import BaseResolver, DNSLogger, DNSServer

from conftest import BIN, ROOT, Server, free_port

CONSOLE = ROOT / "tests" / "e2e" / "console"

DOMAIN = "ente-mittente.example"
SELECTOR = "sel2026"
# The envelope (Return-Path) domain: SPF passes for it, but DMARC below asks for strict SPF
# alignment, so DMARC rests on the DKIM signature alone (as for mail sent through a bulk
# sender's bounce domain).
BOUNCE_DOMAIN = f"bounces.{DOMAIN}"
CLIENT_IP = "203.0.113.25"


class Zone(BaseResolver):
    """Authoritative answers for the test domain; every question is recorded."""

    def __init__(self, txt):
        self.txt = {DNSLabel(name): value for name, value in txt.items()}
        self.questions = []

    def resolve(self, request, handler):
        reply = request.reply()
        qname, qtype = request.q.qname, QTYPE[request.q.qtype]
        self.questions.append((str(qname).rstrip(".").lower(), qtype))
        value = self.txt.get(qname)
        if value is None:
            reply.header.rcode = RCODE.NXDOMAIN
        elif qtype == "TXT":
            # A TXT string holds at most 255 bytes: long keys are split, as zone files do.
            chunks = [value[i:i + 255] for i in range(0, len(value), 255)]
            reply.add_answer(RR(qname, QTYPE.TXT, rdata=TXT(chunks), ttl=60))
        if not reply.rr:
            reply.add_auth(RR(DOMAIN, QTYPE.SOA, ttl=60,
                              rdata=SOA(f"ns.{DOMAIN}", f"hostmaster.{DOMAIN}", (1, 3600, 600, 86400, 60))))
        return reply


class Silent:
    """A DNS server that takes questions (UDP and TCP) and never answers."""

    def __init__(self, port):
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", port))
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind(("127.0.0.1", port))
        self.tcp.listen(16)
        self.questions = 0
        self.stopped = False
        threading.Thread(target=self._swallow, daemon=True).start()

    def _swallow(self):
        self.udp.settimeout(0.2)
        while not self.stopped:
            try:
                self.udp.recvfrom(4096)
                self.questions += 1
            except OSError:
                continue

    def stop(self):
        self.stopped = True
        self.udp.close()
        self.tcp.close()


@pytest.fixture
def dkim_key(tmp_path):
    """A 2048-bit RSA key made by openssl, and its DKIM record (RFC 6376 §3.6.1)."""
    key = tmp_path / "dkim.key"
    subprocess.run(["openssl", "genrsa", "-traditional", "-out", str(key), "2048"],
                   check=True, capture_output=True)
    public = subprocess.run(["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"],
                            check=True, capture_output=True).stdout
    return key.read_bytes(), "v=DKIM1; k=rsa; p=" + base64.b64encode(public).decode()


def zone_records(dkim_record):
    return {
        f"{SELECTOR}._domainkey.{DOMAIN}": dkim_record,
        f"_dmarc.{DOMAIN}": "v=DMARC1; p=reject; adkim=r; aspf=s",
        BOUNCE_DOMAIN: f"v=spf1 ip4:{CLIENT_IP} -all",
        DOMAIN: f"v=spf1 ip4:{CLIENT_IP} -all",
    }


def signed_message(private_key, body="Gentile collega,\r\nin allegato il verbale della riunione di ieri.\r\n"):
    """A message signed by DOMAIN, then received by the organisation from CLIENT_IP."""
    message = (
        f"From: Ufficio Protocollo <protocollo@{DOMAIN}>\r\n"
        "To: mario.rossi@comune-esempio.it\r\n"
        "Subject: Verbale riunione\r\n"
        "Date: Mon, 16 Nov 2026 09:00:00 +0100\r\n"
        f"Message-ID: <verbale-1@{DOMAIN}>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n" + body
    ).encode()
    signature = dkim.sign(message, SELECTOR.encode(), DOMAIN.encode(), private_key,
                          include_headers=[b"from", b"to", b"subject", b"date", b"message-id"])
    received = (
        f"Return-Path: <noreply@{BOUNCE_DOMAIN}>\r\n"
        f"Received: from mail.{DOMAIN} (mail.{DOMAIN} [{CLIENT_IP}])\r\n"
        "\tby mx.comune-esempio.it with ESMTPS id 4Xk2; Mon, 16 Nov 2026 09:00:02 +0100\r\n"
    ).encode()
    return received + signature + message


def dns_server(records):
    """A dnslib server on a free loopback port, UDP and TCP (truncated answers)."""
    zone = Zone(records)
    port = free_port()
    logger = DNSLogger(logf=lambda *_: None)
    servers = [DNSServer(zone, port=port, address="127.0.0.1", logger=logger, tcp=tcp) for tcp in (False, True)]
    for server in servers:
        server.start_thread()
    return zone, port, servers


def start_sentinella(tmp_path, dns_port, timeout_ms=3000):
    config = tmp_path / "sentinella.toml"
    config.write_text(
        "[phish]\n"
        'own_domains = ["comune-esempio.it"]\n'
        'dns = "system"\n'
        f'dns_servers = ["127.0.0.1:{dns_port}"]\n'
        f"dns_timeout_ms = {timeout_ms}\n"
    )
    return Server(tmp_path / "data", tmp_path / "server.log", ["--config", str(config)]).start()


def submit(server, raw):
    status, body = server.request("POST", "/api/v1/phish?lang=en", body=raw,
                                  headers={"Content-Type": "message/rfc822"})
    assert status == 200, body
    return body


def test_signed_message_passes_dkim_spf_dmarc_verified_live(tmp_path, dkim_key):
    private_key, dkim_record = dkim_key
    zone, port, dns_servers = dns_server(zone_records(dkim_record))
    server = start_sentinella(tmp_path, port)
    try:
        raw = signed_message(private_key)
        report = submit(server, raw)
        auth = report["analysis"]["auth"]
        assert auth["dkim"] == [[DOMAIN, "pass"]], auth
        assert auth["spf"] == "pass", auth
        assert auth["spf_identity"] == [CLIENT_IP, f"noreply@{BOUNCE_DOMAIN}"], auth
        assert auth["dmarc"] == "pass" and auth["dmarc_policy"] == "reject", auth
        # Verified live: every name was answered, by this DNS server.
        assert auth["dns_missing"] == [] and auth["dns_failure"] is None, auth
        asked = {name for name, qtype in zone.questions if qtype == "TXT"}
        assert {f"{SELECTOR}._domainkey.{DOMAIN}", f"_dmarc.{DOMAIN}", BOUNCE_DOMAIN} <= asked, zone.questions
        assert not any("not verified" in r for r in report["reasons_en"]), report["reasons_en"]
        assert not any(r.startswith("auth.") and r.endswith("_fail") for r in
                       (f["code"] for f in report["analysis"]["findings"])), report["analysis"]["findings"]

        # The same message with one word of its body changed.
        tampered = raw.replace(b"di ieri", b"di oggi")
        assert tampered != raw
        report = submit(server, tampered)
        auth = report["analysis"]["auth"]
        assert auth["dkim"] == [[DOMAIN, "fail"]], auth
        assert auth["spf"] == "pass", auth  # the envelope is still allowed to send...
        assert auth["dmarc"] == "fail", auth  # ...but DMARC needs the aligned DKIM signature.
        codes = {f["code"] for f in report["analysis"]["findings"]}
        assert {"auth.dkim_fail", "auth.dmarc_fail"} <= codes, codes
        reasons = report["reasons_en"]
        assert any(f"DKIM signature of {DOMAIN} is invalid" in r for r in reasons), reasons
        assert any(f"{DOMAIN} is not authenticated: DMARC fails" in r for r in reasons), reasons

        # A key that does not match the signature (rotated or forged): DKIM fails too.
        other_key = subprocess.run(["openssl", "genrsa", "2048"], check=True, capture_output=True).stdout
        forged = signed_message(other_key)
        report = submit(server, forged)
        assert report["analysis"]["auth"]["dkim"] == [[DOMAIN, "fail"]], report["analysis"]["auth"]
    finally:
        server.stop()
        for dns in dns_servers:
            dns.stop()


def test_cli_analyze_verifies_live_with_dns_server(tmp_path, dkim_key):
    private_key, dkim_record = dkim_key
    zone, port, dns_servers = dns_server(zone_records(dkim_record))
    good, bad = tmp_path / "good.eml", tmp_path / "tampered.eml"
    good.write_bytes(signed_message(private_key))
    bad.write_bytes(good.read_bytes().replace(b"di ieri", b"di oggi"))

    def analyze(*args):
        result = subprocess.run([BIN, "phish", "analyze", "--json", *args], capture_output=True,
                                text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        lines = [json.loads(line) for line in result.stdout.splitlines()]
        return {Path(line["file"]).name: line["auth"] for line in lines if "auth" in line}

    try:
        live = analyze("--dns-server", f"127.0.0.1:{port}", str(good), str(bad))
        assert live["good.eml"]["dkim"] == [[DOMAIN, "pass"]], live
        assert live["good.eml"]["dmarc"] == "pass" and live["good.eml"]["spf"] == "pass", live
        assert live["tampered.eml"]["dkim"] == [[DOMAIN, "fail"]], live
        assert live["tampered.eml"]["dmarc"] == "fail", live
        # Without --dns-server the CLI stays offline and says so.
        offline = analyze(str(good))
        assert offline["good.eml"]["dkim"] == [[DOMAIN, "not_verified"]], offline
        assert offline["good.eml"]["dns_failure"] is None and offline["good.eml"]["dns_missing"], offline
        bad_server = subprocess.run([BIN, "phish", "analyze", "--dns-server", "dns.example", str(good)],
                                    capture_output=True, text=True, timeout=120)
        assert bad_server.returncode != 0 and "not a DNS server address" in bad_server.stderr, bad_server.stderr
    finally:
        for dns in dns_servers:
            dns.stop()


def test_missing_records_are_answers_not_failures(tmp_path, dkim_key):
    """NXDOMAIN for the key and the policies is an answer: DKIM errs (no key), SPF and DMARC
    are none, and nothing is "not verified"."""
    private_key, _ = dkim_key
    zone, port, dns_servers = dns_server({})
    server = start_sentinella(tmp_path, port)
    try:
        auth = submit(server, signed_message(private_key))["analysis"]["auth"]
        assert auth["dns_failure"] is None and auth["dns_missing"] == [], auth
        assert auth["dkim"] == [[DOMAIN, "error"]], auth  # no key: a permanent error (RFC 6376 §6.1.2)
        assert auth["dmarc"] == "none" and auth["spf"] == "none", auth
        assert zone.questions, "the DNS server was not asked"
    finally:
        server.stop()
        for dns in dns_servers:
            dns.stop()


def test_dns_server_that_never_answers_gives_not_verified_timeout(tmp_path, dkim_key):
    private_key, _ = dkim_key
    port = free_port()
    silent = Silent(port)
    server = start_sentinella(tmp_path, port, timeout_ms=1500)
    try:
        started = time.monotonic()
        report = submit(server, signed_message(private_key))
        elapsed = time.monotonic() - started
        auth = report["analysis"]["auth"]
        assert auth["dns_failure"] == "timeout", auth
        # Not a false failure: what needed DNS is "not verified".
        assert auth["dkim"] == [[DOMAIN, "not_verified"]], auth
        assert auth["spf"] == "not_verified" and auth["dmarc"] == "not_verified", auth
        assert auth["dns_missing"], auth
        codes = {f["code"] for f in report["analysis"]["findings"]}
        assert not codes & {"auth.dkim_fail", "auth.dmarc_fail", "auth.spf_fail"}, codes
        assert "auth.not_verified" in codes, codes
        assert any("not verified (DNS timeout)" in r for r in report["reasons_en"]), report["reasons_en"]
        assert any("non sono verificati (timeout DNS)" in r for r in report["reasons_it"]), report["reasons_it"]
        assert silent.questions >= 1, "the silent server was never asked"
        # The first timeout ends the message's lookups: about one timeout, not one per name.
        print(f"analysis with a silent DNS server took {elapsed:.2f} s (dns_timeout_ms = 1500)")

        # The console's authentication section says why (console/phish_dns.test.mjs).
        one_time = (server.data_dir / "initial-admin-password").read_text().strip()
        shots = Path(os.environ.get("CONSOLE_SCREENSHOTS") or tmp_path / "screenshots")
        config = {"adminOneTime": one_time, "adminPassword": "new admin password 2026"}
        env = dict(os.environ, SENTINELLA_URL=server.url, SCREENSHOTS=str(shots), CONSOLE_CONFIG=json.dumps(config))
        result = subprocess.run(["node", str(CONSOLE / "phish_dns.test.mjs")], cwd=CONSOLE, env=env,
                                capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, f"{result.stderr}\n{result.stdout}\nscreenshots: {shots}"
        observed = json.loads(result.stdout.strip().splitlines()[-1])
        assert observed["dialogs"] == [], observed
        assert observed["failureEn"] == "DNS timeout the checks that needed it are not verified", observed
        assert "DNS failure" in observed["authEn"], observed
        assert observed["failureIt"] == "timeout DNS i controlli che ne dipendevano non sono verificati", observed
        assert "Errore DNS" in observed["authIt"], observed
    finally:
        server.stop()
        silent.stop()


@pytest.mark.parametrize("extra, message", [
    ('dns_servers = ["127.0.0.1:5353"]\n', 'dns_servers needs dns = "system"'),
    ('dns = "system"\ndns_servers = ["dns.example"]\n', "not a DNS server address"),
    ('dns = "system"\ndns_servers = ["127.0.0.1"]\ndns_timeout_ms = 0\n', "dns_timeout"),
])
def test_bad_dns_settings_are_refused_at_start(tmp_path, extra, message):
    config = tmp_path / "bad.toml"
    config.write_text("[phish]\n" + extra)
    result = subprocess.run([BIN, "serve", "--config", str(config), "--data-dir", str(tmp_path / "d"),
                             "--http-listen", f"127.0.0.1:{free_port()}", "--es-listen", f"127.0.0.1:{free_port()}",
                             "--syslog-listen", f"127.0.0.1:{free_port()}"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert message in result.stderr + result.stdout, result.stderr
