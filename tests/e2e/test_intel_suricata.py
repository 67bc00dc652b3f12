"""Suricata itself checks the Suricata rule export: real abuse.ch and MISP feed indicators
(IPs, CIDRs, domains, URLs, file hashes) plus hostile URLs are imported into a server, the
rules are exported with `sentinella intel export` through its API, and `suricata -T` (test
mode: it parses and loads every rule, opens no interface and stays in the foreground) must
load every one of them."""

import datetime
import re
import shutil
import subprocess
import urllib.parse

from conftest import BIN, SHARED

CTI = SHARED / "cti"
SURICATA = shutil.which("suricata") or "/usr/bin/suricata"
# Values built to break rule syntax if they were written as-is: quotes, semicolons, pipes,
# backslashes, colons, a non-ASCII host, a port, a query string.
HOSTILE = [
    'http://evil-quote.example/a"b;c|d\\e:f?x=1&y=";',
    "http://xn--bcher-kva.example/download.php?id=1;drop",
    "http://evil-port.example:8080/p|a|t|h",
    "https://evil-tls.example/",
    # Blocks and IPv6, which rule addresses write differently.
    "198.51.100.0/24",
    "2001:db8:bad::/48",
    "2001:db8::7",
]


def import_feed(server, path, *args):
    result = subprocess.run([BIN, "intel", "import", "--server", server.url, "--data-dir", str(server.data_dir),
                             *args, str(path)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr + result.stdout


def indicators(server, kind):
    status, body = server.request("GET", "/api/v1/intel/indicators?" + urllib.parse.urlencode({"kind": kind, "limit": 10000}))
    assert status == 200, body
    now = datetime.datetime.now(datetime.timezone.utc).isoformat()
    # In force: what exports carry (RFC 3339 UTC strings compare in time order).
    return [i for i in body["indicators"] if not i.get("withdrawn")
            and (i.get("valid_until") or "9999") > now[:19] and (i.get("valid_from") or "") <= now[:19]]


def test_suricata_loads_every_exported_rule(server, tmp_path):
    import_feed(server, CTI / "feeds" / "abusech" / "feodotracker_ipblocklist_2021-02.csv", "--tlp", "clear")
    import_feed(server, CTI / "feeds" / "abusech" / "urlhaus_tld_feed_2019-02.csv", "--tlp", "green")
    import_feed(server, CTI / "feeds" / "misp-feed-sample" / "feed", "--tlp", "green")
    hostile = tmp_path / "hostile.txt"
    hostile.write_text("\n".join(HOSTILE) + "\n")
    import_feed(server, hostile, "--format", "plain", "--tlp", "green")
    by_kind = {kind: indicators(server, kind) for kind in ("ip", "domain", "url", "md5", "sha1", "sha256")}
    assert all(by_kind.values()), {k: len(v) for k, v in by_kind.items()}
    assert any("/" in i["value"] for i in by_kind["ip"]) and any(":" in i["value"] for i in by_kind["ip"])

    rules_path = tmp_path / "sentinella.rules"
    result = subprocess.run([BIN, "intel", "export", "--server", server.url, "--data-dir", str(server.data_dir),
                             "--format", "suricata", "--max-tlp", "amber", "-o", str(rules_path)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    rules = [line for line in rules_path.read_text().splitlines() if line and not line.startswith("#")]
    # One rule per IP and URL, one or two per domain (two with subdomains); hashes need
    # Suricata file lists and are not rules.
    n_domains = sum(2 if i.get("include_subdomains") else 1 for i in by_kind["domain"])
    assert len(rules) == len(by_kind["ip"]) + n_domains + len(by_kind["url"]), len(rules)
    for url in by_kind["url"]:
        assert any(f"intel url {url['value'][:20]}" in rule.replace("\\", "") for rule in rules), url
    sids = [re.search(r"sid:(\d+);", rule).group(1) for rule in rules]
    assert len(set(sids)) == len(sids)

    # A minimal configuration of its own, in the temp dir: no interface, no daemon.
    (tmp_path / "classification.config").write_text("config classification: trojan-activity,A Network Trojan was detected,1\n")
    (tmp_path / "reference.config").write_text("")
    (tmp_path / "threshold.config").write_text("")
    config = tmp_path / "suricata.yaml"
    config.write_text("%YAML 1.1\n---\n"
                      f"classification-file: {tmp_path / 'classification.config'}\n"
                      f"reference-config-file: {tmp_path / 'reference.config'}\n"
                      f"threshold-file: {tmp_path / 'threshold.config'}\n"
                      "logging:\n  outputs:\n    - console:\n        enabled: yes\n")
    logs = tmp_path / "suricata-logs"
    logs.mkdir()
    check = subprocess.run([SURICATA, "-T", "-v", "-c", str(config), "-S", str(rules_path), "-l", str(logs)],
                           capture_output=True, text=True, timeout=300)
    output = check.stdout + check.stderr
    assert check.returncode == 0, output[-4000:]
    assert f"{len(rules)} rules successfully loaded, 0 rules failed" in output, output[-4000:]
