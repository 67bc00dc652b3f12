"""`sentinella import` with real files: EVTX attack samples and loghub Linux/OpenSSH logs."""

import csv
import io
import json
import subprocess

from conftest import BIN, SHARED

EVTX_DIR = SHARED / "evtx" / "attack-samples"


def run_import(server, *paths, direct=False):
    args = [BIN, "import", "--data-dir", str(server.data_dir), "--server", server.url]
    if direct:
        args.append("--direct")
    result = subprocess.run([*args, *map(str, paths)], capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stderr[-3000:] + result.stdout[-3000:]
    return result


def test_evtx_attack_samples_import_into_running_server(server):
    folder = EVTX_DIR / "Credential Access"
    result = run_import(server, folder)
    assert "imported" in result.stdout
    server.refresh()
    total = server.search("log.parser:evtx", limit=0)["total"]
    assert total > 100, total
    # Security logons carry ECS fields, not only winlog.event_data.
    logons = server.search("winlog.channel:Security AND winlog.event_id:4624", limit=5)
    assert logons["total"] > 0
    assert any("user" in hit for hit in logons["hits"])
    # Sysmon process creation gives ECS process fields.
    sysmon = server.search("winlog.event_id:1 AND _exists_:process.command_line", limit=1)
    assert sysmon["total"] > 0, "no Sysmon 1 with process.command_line"
    assert server.search("event.code:[4600 TO 4700]", limit=0)["total"] > 0


def test_evtx_import_directly_into_a_stopped_data_dir(server, tmp_path):
    server.stop()
    sample = next(EVTX_DIR.rglob("*.evtx"))
    run_import(server, sample, direct=True)
    server.start()
    assert server.search("log.parser:evtx", limit=0)["total"] > 0


def test_loghub_openssh_lines_are_parsed(server):
    log = SHARED / "logs" / "loghub" / "OpenSSH" / "OpenSSH_2k.log"
    run_import(server, log)
    server.refresh()
    assert server.search("*", limit=0)["total"] == 2000
    failed = server.search('"Failed password"', limit=0)["total"]
    with_ip = server.search('"Failed password" AND _exists_:source.ip', limit=0)["total"]
    assert failed > 0 and with_ip == failed, (failed, with_ip)
    assert server.search("user.name:root", limit=0)["total"] > 0


def test_corrupted_evtx_is_reported_and_good_files_still_import(server, tmp_path):
    sample = next(EVTX_DIR.rglob("*.evtx"))
    data = bytearray(sample.read_bytes())
    # Smash the middle of the first chunk's records.
    for offset in range(0x1200, min(len(data), 0x3000), 7):
        data[offset] ^= 0xFF
    broken = tmp_path / "broken.evtx"
    broken.write_bytes(bytes(data))
    truncated = tmp_path / "truncated.evtx"
    truncated.write_bytes(sample.read_bytes()[:5000])
    garbage = tmp_path / "garbage.evtx"
    garbage.write_bytes(b"ElfFile\x00" + b"\xff" * 10000)
    result = run_import(server, broken, truncated, garbage, sample)
    assert "unreadable" in result.stdout + result.stderr
    server.refresh()
    assert server.search("log.parser:evtx", limit=0)["total"] > 0


def test_plain_file_with_a_huge_line_and_no_newline_imports_bounded(server, tmp_path):
    path = tmp_path / "auth.log"
    with open(path, "wb") as out:
        out.write(b"Jan  5 10:00:00 gw sshd[42]: Accepted password for eve from 192.0.2.10 port 5000 ssh2\n")
        out.write(b"Jan  5 10:00:01 gw app: " + b"x" * (5 * 1024 * 1024) + b"\n")
        out.write(b"Jan  5 10:00:02 gw sshd[43]: Failed password for root from 192.0.2.11 port 5001 ssh2")
    run_import(server, path)
    server.refresh()
    assert server.search("user.name:eve AND source.ip:192.0.2.10", limit=0)["total"] == 1
    assert server.search("source.ip:192.0.2.11", limit=0)["total"] == 1
    long_line = server.search("log.syslog.appname:app", limit=1)["hits"]
    assert long_line and len(long_line[0]["event"]["original"]) <= 1024 * 1024


def test_search_command_prints_table_json_and_csv(server):
    status, _ = server.request("POST", "/api/v1/ingest", [
        {"message": "=cmd|' /C calc'!A0", "user": {"name": "frank"}, "host": {"name": "ws-1"}},
        {"message": "second, with comma", "user": {"name": "frank"}, "host": {"name": "ws-2"}},
    ])
    assert status == 200
    server.refresh()
    base = [BIN, "search", "user.name:frank", "--since", "1h", "--data-dir", str(server.data_dir), "--server", server.url]
    table = subprocess.run([*base, "--format", "table"], capture_output=True, text=True, check=True).stdout
    assert "ws-1" in table and "2 of 2 matching events" in table
    lines = subprocess.run([*base, "--format", "json"], capture_output=True, text=True, check=True).stdout.splitlines()
    assert sorted(json.loads(line)["host"]["name"] for line in lines) == ["ws-1", "ws-2"]
    csv_out = subprocess.run([*base, "--format", "csv"], capture_output=True, text=True, check=True).stdout
    rows = list(csv.reader(io.StringIO(csv_out)))
    assert rows[0] == ["@timestamp", "host.name", "log.parser", "message"]
    messages = sorted(row[3] for row in rows[1:])
    # A formula is defused for spreadsheets; commas are quoted.
    assert messages == ["'=cmd|' /C calc'!A0", "second, with comma"]
    bad = subprocess.run([*base[:2], "(unclosed", *base[3:]], capture_output=True, text=True)
    assert bad.returncode != 0 and "expected" in bad.stderr


def test_loghub_linux_auth_lines_are_parsed(server):
    log = SHARED / "logs" / "loghub" / "Linux" / "Linux_2k.log"
    run_import(server, log)
    server.refresh()
    assert server.search("*", limit=0)["total"] == 2000
    # pam_unix authentication failures from sshd carry the remote host as source.ip.
    failures = server.search("log.syslog.appname:sshd* AND \"authentication failure\"", limit=0)["total"]
    assert failures > 0
    assert server.search("log.parser:*pam* OR log.parser:*sshd* OR log.parser:*su", limit=0)["total"] > 0
    assert server.search("log.parser:raw", limit=0)["total"] == 0
