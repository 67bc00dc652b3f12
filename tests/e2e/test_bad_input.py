"""Hostile and broken input: clear errors or counted drops, no crash, good neighbours kept."""

import json
import socket
import uuid


def send_tcp(server, payload: bytes):
    with socket.create_connection(("127.0.0.1", server.syslog_port), timeout=10) as sock:
        sock.sendall(payload)


def test_oversized_truncated_and_invalid_utf8_syslog_frames(server):
    run = uuid.uuid4().hex[:10]
    payload = (
        f"<13>good1 {run}\n".encode()
        + b"<13>" + b"A" * 200_000 + b"\n"  # over the 64 KiB frame limit: dropped and counted
        + b"<13>bad utf8 \xff\xfe\xc3 " + run.encode() + b"\n"
        + f"<13>good2 {run}\n".encode()
        + b"99999999999 <13>bogus octet count\n"
        + f"<13>good3 {run}\n".encode()
        + b"<13>CEF:0|broken|cef " + run.encode() + b"\n"
        + b"<13>truncated at close " + run.encode()  # no newline: still delivered
    )
    send_tcp(server, payload)
    assert server.wait_total(run, 5) >= 5
    for needle in ("good1", "good2", "good3"):
        assert server.search(f"{needle} AND {run}")["total"] == 1, needle
    utf8 = server.search(f"utf8 AND {run}")["hits"]
    assert utf8 and "\ufffd" in utf8[0]["event"]["original"]
    assert server.search(f"truncated AND {run}")["total"] == 1
    cef = server.search(f"broken AND {run}")["hits"]
    assert cef, "malformed CEF line must still be stored"
    status, metrics = server.request("GET", "/metrics")
    assert status == 200
    assert "ingest_" in metrics


def test_json_bombs_and_garbage_get_clear_errors(server):
    bomb = b"[" * 200_000 + b"]" * 200_000
    status, body = server.request("POST", "/api/v1/ingest", bomb)
    assert status == 400, body
    nested = b'{"a":' * 100_000 + b"1" + b"}" * 100_000
    status, body = server.request("POST", "/api/v1/ingest", nested)
    assert status == 400, body
    status, body = server.request("POST", "/api/v1/ingest", b"\x00\xff garbage")
    assert status == 400 and "line 1" in json.dumps(body)
    status, body = server.request("GET", "/api/v1/search?q=" + "(" * 500)
    assert status == 400 and "error" in body
    status, body = server.request("GET", "/api/v1/search?q=*&from=yesterday")
    assert status == 400
    # Still alive and serving.
    status, _ = server.request("GET", "/api/v1/stats")
    assert status == 200


def test_udp_garbage_is_stored_not_fatal(server):
    run = uuid.uuid4().hex[:10]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for datagram in (b"", b"\x00\x01\x02", b"<999999>1 x", b"<13>1 - - - - - [bad sd " + run.encode(),
                         b"<13>udp ok " + run.encode()):
            sock.sendto(datagram, ("127.0.0.1", server.syslog_port))
    assert server.wait_total(run, 2) >= 2
