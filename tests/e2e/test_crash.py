"""kill -9 mid-stream, restart: every acknowledged event is searchable, nothing is duplicated.

HTTP gives explicit acknowledgements (a 200 means fsynced). Syslog over TCP has no
application-level acknowledgement, so for it the test proves the weaker property that
what survives is a gap-free prefix of what was sent on the connection (acknowledgement
is in order, so a gap would mean an acknowledged event was lost).
"""

import json
import random
import re
import socket
import threading
import time
import urllib.request
import uuid


def fetch_all(server, q):
    hits, offset = [], 0
    while True:
        page = server.search(q, limit=10_000, offset=offset)["hits"]
        hits.extend(page)
        if len(page) < 10_000:
            return hits
        offset += len(page)


def http_sender(server, run, stop, acked):
    token = server.token
    seq = 0
    while not stop.is_set():
        body = "\n".join(
            json.dumps({"message": f"crash http {run}", "labels": {"run": run, "kind": "http"}, "seqno": seq + i})
            for i in range(100)
        ).encode()
        req = urllib.request.Request(server.url + "/api/v1/ingest", data=body, method="POST",
                                     headers={"Authorization": f"Bearer {token}"})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                if resp.status == 200:
                    acked.append((seq, seq + 100))
        except Exception:
            return  # the server died mid-request: that batch is unacknowledged
        seq += 100


def tcp_sender(server, run, stop, sent):
    try:
        sock = socket.create_connection(("127.0.0.1", server.syslog_port), timeout=5)
    except OSError:
        return
    seq = 0
    try:
        while not stop.is_set():
            lines = "".join(f"<13>1 2024-06-01T00:00:00Z host app - - - crashtcp{run} seq={seq + i}\n" for i in range(50))
            sock.sendall(lines.encode())
            seq += 50
            sent[0] = seq
            time.sleep(0.005)
    except OSError:
        pass
    finally:
        sock.close()


def test_kill9_loses_no_acknowledged_event(server):
    run = uuid.uuid4().hex[:10]
    all_acked = []
    for cycle in range(3):
        stop = threading.Event()
        acked, sent = [], [0]
        cycle_run = f"{run}c{cycle}"
        threads = [
            threading.Thread(target=http_sender, args=(server, cycle_run, stop, acked)),
            threading.Thread(target=tcp_sender, args=(server, cycle_run, stop, sent)),
        ]
        for thread in threads:
            thread.start()
        time.sleep(random.uniform(1.0, 3.0))
        server.kill9()
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        assert acked, "no HTTP batch was acknowledged before the kill"
        all_acked.append((cycle_run, acked))
        server.start()

        # Every acknowledged HTTP event of every cycle so far is searchable exactly once.
        for past_run, past_acked in all_acked:
            hits = fetch_all(server, f"labels.run:{past_run} AND labels.kind:http")
            seqnos = [hit["seqno"] for hit in hits]
            assert len(seqnos) == len(set(seqnos)), "duplicated events after restart"
            expected = {n for start, end in past_acked for n in range(start, end)}
            missing = expected - set(seqnos)
            assert not missing, f"{len(missing)} acknowledged events lost in {past_run}"

        # TCP: a gap-free prefix of what was sent.
        hits = fetch_all(server, f"crashtcp{cycle_run}")
        seqs = sorted(int(re.search(r"seq=(\d+)", hit["event"]["original"]).group(1)) for hit in hits)
        assert seqs == list(range(len(seqs))), "gap or duplicate in TCP events after restart"
        assert len(seqs) <= sent[0]
