"""Phishing reports checked against threat intelligence: a link, sender or attachment that
the indicator set lists as malicious decides the verdict of a report forwarded with swaks;
the reporter's answer names only the value from the message (not the indicator's source or
marking), analysts see the indicator behind it, viewers do not, TLP:RED indicators are never
used for a reporter's verdict, and a withdrawn indicator stops counting at once; a malicious report's own values judge the
next report of the same campaign."""

import hashlib
import json
import os
import subprocess
import urllib.parse
from pathlib import Path

from conftest import BIN, ROOT, SHARED, Server, free_port
from test_console_api import add_user, raw, session_headers, sign_in
from test_phish import desk, swaks  # noqa: F401 (the fixture)



def quiet(link, attachment=None, sender="anna.rossi@partner-esempio.org"):
    """A message with no phishing trait at all: only intelligence can judge it."""
    head = (
        f"From: Anna Rossi <{sender}>\r\n"
        "To: mario@comune-esempio.it\r\n"
        "Subject: Verbale riunione\r\n"
        "Message-ID: <v1@partner-esempio.org>\r\n"
        "Date: Mon, 2 Nov 2026 10:00:00 +0100\r\n"
        "MIME-Version: 1.0\r\n"
    )
    text = f"Ciao Mario, il verbale e' su {link} come d'accordo.\r\nAnna\r\n"
    if attachment is None:
        return (head + "Content-Type: text/plain; charset=utf-8\r\n\r\n" + text).encode()
    name, data = attachment
    return (
        head + 'Content-Type: multipart/mixed; boundary="XX"\r\n\r\n'
        "--XX\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + text +
        f'--XX\r\nContent-Type: text/plain; name="{name}"\r\n'
        f'Content-Disposition: attachment; filename="{name}"\r\n\r\n' + data + "\r\n--XX--\r\n"
    ).encode()


def import_plain(server, values, source, tlp):
    query = urllib.parse.urlencode({"format": "plain", "source": source, "tlp": tlp})
    status, body = server.request("POST", f"/api/v1/intel/import?{query}", body="\n".join(values).encode(),
                                  headers={"Content-Type": "text/plain"})
    assert status == 200 and body["new"] == len(values), body


def report(server, sink, tmp, reporter, message):
    lure = tmp / f"{reporter.split('@')[0]}.eml"
    lure.write_bytes(message)
    result = swaks(server.smtp_port, "--from", reporter, "--header", "Subject: Segnalazione",
                   "--body", "Mi sembra sospetto", "--attach-type", "message/rfc822",
                   "--attach-name", "lure.eml", "--attach", f"@{lure}")
    assert result.returncode == 0, result.stdout + result.stderr
    answer = sink.wait_for(reporter)
    status, body = server.request("GET", "/api/v1/phish/reports?limit=500")
    assert status == 200, body
    [stored] = [r for r in body["reports"] if r["reporter"] == reporter]
    status, full = server.request("GET", f"/api/v1/phish/reports/{stored['id']}")
    assert status == 200, full
    return answer, full


def test_intelligence_decides_and_stays_behind_the_reason(desk):
    server, sink, tmp = desk
    # Without intelligence the message is harmless.
    answer, full = report(server, sink, tmp, "a1@comune-esempio.it", quiet("https://files-share-esempio.net/v/42"))
    assert answer["X-Sentinella-Verdict"] == "likely_safe", answer.get_content()
    assert "intel" not in full["analysis"]

    import_plain(server, ["files-share-esempio.net"], "cert-feed", "amber")
    import_plain(server, ["red-only-esempio.net"], "police-red", "red")
    answer, full = report(server, sink, tmp, "a2@comune-esempio.it", quiet("https://files-share-esempio.net/v/42"))
    assert answer["X-Sentinella-Verdict"] == "malicious"
    text = answer.get_content()
    assert "threat intelligence" in text and "files-share-esempio.net" in text, text
    # The reporter learns that the site is known, not who said so or how it is marked.
    assert "cert-feed" not in text and "AMBER" not in text.upper(), text
    codes = [f["code"] for f in full["analysis"]["findings"]]
    assert "intel.known_link" in codes
    hits = full["analysis"]["intel"]
    assert {h["indicator"]["source"] for h in hits} == {"cert-feed"}
    assert {h["indicator"]["tlp"] for h in hits} == {"amber"}

    # A viewer reads the findings but not the indicators behind them.
    add_user(server, "vera", "viewer")
    status, _, session, _ = sign_in(server, "vera")
    assert status == 200
    status, body, _ = raw(server, "GET", f"/api/v1/phish/reports/{full['id']}", headers=session_headers(session))
    assert status == 200 and "intel.known_link" in [f["code"] for f in body["analysis"]["findings"]]
    assert "intel" not in body["analysis"]

    # The malicious report gave its values to intelligence: the next report carrying the same
    # link, from someone else, is judged by the report's own indicator (the exact URL, which
    # only the report shared). The partner's From domain was not shared: nothing
    # authenticated it, anyone could have written it.
    answer, full = report(server, sink, tmp, "a5@comune-esempio.it",
                          quiet("https://files-share-esempio.net/v/42", sender="paolo@sesto-esempio.org"))
    assert answer["X-Sentinella-Verdict"] == "malicious", answer.get_content()
    assert any(h["place"] == "link" and h["indicator"]["source"] == "phishing-report"
               for h in full["analysis"]["intel"]), full["analysis"]["intel"]
    status, body = server.request("GET", "/api/v1/intel/indicators?value=partner-esempio.org")
    assert status == 200 and body["total"] == 0, body

    # TLP:RED is for its named recipients only: never the basis of a reporter's answer.
    answer, full = report(server, sink, tmp, "a3@comune-esempio.it",
                          quiet("https://red-only-esempio.net/x", sender="paolo@altro-esempio.org"))
    assert answer["X-Sentinella-Verdict"] == "likely_safe", full["analysis"].get("intel")
    assert "intel" not in full["analysis"]


def test_a_known_attachment_hash_and_sender(desk):
    server, sink, tmp = desk
    data = "documento riservato " * 20
    sha256 = hashlib.sha256(data.encode()).hexdigest()
    import_plain(server, [sha256], "sandbox", "green")
    answer, full = report(server, sink, tmp, "b1@comune-esempio.it",
                          quiet("https://www.quinto-esempio.org/v", ("verbale.txt", data), sender="carla@quinto-esempio.org"))
    assert answer["X-Sentinella-Verdict"] == "malicious", answer.get_content()
    assert "verbale.txt" in answer.get_content()
    [hit] = full["analysis"]["intel"]
    assert hit["place"] == "attachment" and hit["indicator"]["value"] == sha256

    # Withdrawn: the live matcher drops it at once (every source of the value, including
    # the phishing report that just shared it); the next report is judged without it.
    status, body = server.request("POST", "/api/v1/intel/withdraw", {"kind": "sha256", "value": sha256})
    assert status == 200, body
    answer, full = report(server, sink, tmp, "b3@comune-esempio.it",
                          quiet("https://www.quarto-esempio.org/v", ("verbale.txt", data), sender="ugo@quarto-esempio.org"))
    assert answer["X-Sentinella-Verdict"] == "likely_safe", full["analysis"].get("intel")

    import_plain(server, ["anna.rossi@partner-esempio.org"], "bec-list", "green")
    answer, full = report(server, sink, tmp, "b2@comune-esempio.it",
                          quiet("https://www.partner-esempio.org/v", sender="anna.rossi@partner-esempio.org"))
    assert answer["X-Sentinella-Verdict"] == "malicious", answer.get_content()
    assert "intel.known_sender" in [f["code"] for f in full["analysis"]["findings"]]


def test_offline_analysis_reads_an_intelligence_store(tmp_path):
    """`phish analyze --intel DIR` judges with the indicators of a store on disk."""
    feed = tmp_path / "iocs.txt"
    feed.write_text("files-share-esempio.net\n")
    data = tmp_path / "data"
    subprocess.run([str(BIN), "intel", "import", "--direct", "--format", "plain", "--tlp", "green",
                    "--data-dir", str(data), str(feed)], check=True, capture_output=True, timeout=120)
    lure = tmp_path / "lure.eml"
    lure.write_bytes(quiet("https://files-share-esempio.net/v/42"))

    def analyze(*extra):
        out = subprocess.run([str(BIN), "phish", "analyze", "--json", *extra, str(lure)],
                             check=True, capture_output=True, text=True, timeout=120).stdout
        return json.loads(out.splitlines()[0])

    assert analyze()["verdict"] == "likely_safe"
    judged = analyze("--intel", str(data / "intel"))
    assert judged["verdict"] == "malicious", judged
    assert any("threat intelligence" in r for r in judged["reasons"]), judged


def test_console_shows_the_indicator_behind_a_verdict_as_text(tmp_path):
    """The Phishing page's intelligence section in Chromium; the matched attachment is named
    with an HTML payload, which must stay text."""
    server = Server(tmp_path / "data", tmp_path / "server.log").start()
    try:
        data = "contenuto malevolo " * 10
        sha256 = hashlib.sha256(data.encode()).hexdigest()
        import_plain(server, [sha256], "sandbox-feed", "amber")
        payload = '<img src=x onerror=alert(1)>.txt'
        message = quiet("https://www.partner-esempio.org/v", (payload, data))
        status, body = server.request("POST", "/api/v1/phish", body=message, headers={"Content-Type": "message/rfc822"})
        assert status == 200 and body["verdict"] == "malicious", body
        one_time = (server.data_dir / "initial-admin-password").read_text().strip()
        shots = Path(os.environ.get("CONSOLE_SCREENSHOTS") or tmp_path / "screenshots")
        config = {"adminOneTime": one_time, "adminPassword": "new admin password 2026"}
        env = dict(os.environ, SENTINELLA_URL=server.url, SCREENSHOTS=str(shots), CONSOLE_CONFIG=json.dumps(config))
        console = ROOT / "tests" / "e2e" / "console"
        result = subprocess.run(["node", str(console / "phish_intel.test.mjs")], cwd=console, env=env,
                                capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, f"{result.stderr}\n{result.stdout}\nscreenshots: {shots}"
        observed = json.loads(result.stdout.strip().splitlines()[-1])
        assert observed["dialogs"] == [], observed
        for lang, title in (("en", "Known to threat intelligence"), ("it", "Noto alla threat intelligence")):
            seen = observed[lang]
            assert seen["injected"] == 0 and seen["pageInjected"] == 0, seen
            assert title in seen["text"], seen
            [hit] = seen["hits"]
            assert hit[0] == "attachment" and hit[1] == payload, hit
            assert hit[2] == f"sha256: {sha256}" and hit[3] == "sandbox-feed" and hit[4] == "AMBER", hit
        assert "threat intelligence lists as malicious" in observed["en"]["text"]
        assert "elenca come malevolo" in observed["it"]["text"]
    finally:
        server.stop()


def test_warninglists_describe_senders_and_hosting(tmp_path):
    """`[phish] warninglists` with MISP's own lists: a link on a dynamic DNS name is a finding."""
    lists = SHARED / "intel" / "warninglists"
    config = tmp_path / "sentinella.toml"
    config.write_text(
        "[phish]\n"
        f'warninglists = ["{lists / "dynamic-dns"}", "{lists / "disposable-email"}"]\n'
    )
    server = Server(tmp_path / "data", tmp_path / "server.log", ["--config", str(config)]).start()
    try:
        message = quiet("https://verbale-riunione.duckdns.org/42", sender="luca@mailinator.com")
        status, body = server.request("POST", "/api/v1/phish", body=message, headers={"Content-Type": "message/rfc822"})
        assert status == 200, body
        codes = {f["code"] for f in body["analysis"]["findings"]}
        assert {"link.dynamic_dns", "header.disposable_sender"} <= codes, codes
        assert any("duckdns.org" in r and "dynamic DNS" in r for r in body["reasons_en"]), body["reasons_en"]
        assert body["verdict"] == "suspicious", body
    finally:
        server.stop()

    # A list that cannot be read stops the start with the setting's name.
    bad = tmp_path / "bad.toml"
    bad.write_text('[phish]\nwarninglists = ["/nonexistent/list.json"]\n')
    result = subprocess.run([BIN, "serve", "--config", str(bad), "--data-dir", str(tmp_path / "d2"),
                             "--http-listen", f"127.0.0.1:{free_port()}", "--es-listen", f"127.0.0.1:{free_port()}",
                             "--syslog-listen", f"127.0.0.1:{free_port()}"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "[phish] warninglists" in result.stderr, result.stderr
