"""How long a TAXII 2.1 partner waits for a page of a large collection, and what an export
or a blocklist of all of it costs the server (time, bytes, peak RSS sampled during it). Not
a test: run it by hand, with a release build for figures worth reporting.

    SENTINELLA_BIN=$CARGO_TARGET_DIR/release/sentinella python3 tests/e2e/bench_intel_taxii.py 1000000

With a data directory already holding indicators (built with `sentinella intel import
--direct`, see docs/benchmarks.md; the server writes into it), the import is skipped:

    SENTINELLA_BIN=... python3 tests/e2e/bench_intel_taxii.py 0 /tmp/copy-of-10m-data

`BENCH_EXPORTS=edl-ip,nft` narrows the exports measured.
"""

import hashlib
import ipaddress
import os
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from taxii2client.v21 import Server as TaxiiServer

from conftest import Server


def rss_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def fetch_measured(server, path):
    """GETs `path` (streamed to nowhere) while sampling the server's RSS: seconds, bytes,
    RSS before and peak RSS in MiB."""
    pid = server.proc.pid
    before = rss_kib(pid)
    peak = [before]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], rss_kib(pid))
            time.sleep(0.01)

    sampler = threading.Thread(target=sample)
    sampler.start()
    started = time.perf_counter()
    size = 0
    req = urllib.request.Request(server.url + path, headers={"Authorization": f"Bearer {server.token}"})
    with urllib.request.urlopen(req, timeout=600) as resp:
        while chunk := resp.read(1 << 20):
            size += len(chunk)
    elapsed = time.perf_counter() - started
    done.set()
    sampler.join()
    return elapsed, size, before / 1024, peak[0] / 1024


def main(n_indicators, data_dir=None):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        config = tmp / "sentinella.toml"
        config.write_text("\n".join([
            "[intel]", "retro_match_hours = 0", "[[intel.partners]]", 'name = "Partner"', 'max_tlp = "amber"',
            'collections = ["indicators"]', 'username = "partner"',
            f'password_sha256 = "{hashlib.sha256(b"bench-password").hexdigest()}"', ""]))
        base = int(ipaddress.IPv4Address("10.0.0.0"))
        feed = "".join(f"{ipaddress.IPv4Address(base + 3 * i + 1)}\n" for i in range(n_indicators)).encode()
        started = time.perf_counter()
        server = Server(Path(data_dir) if data_dir else tmp / "data", tmp / "server.log",
                        extra_args=["--config", str(config)]).start()
        print(f"server up in {time.perf_counter() - started:.1f} s, RSS {rss_kib(server.proc.pid) / 1024:.0f} MiB")
        try:
            if n_indicators:
                started = time.perf_counter()
                status, body = server.request("POST", "/api/v1/intel/import?format=plain&source=bench&tlp=green",
                                              body=feed, headers={"Content-Type": "text/plain"})
                assert status == 200 and body["new"] == n_indicators, body
                print(f"import of {n_indicators} indicators: {time.perf_counter() - started:.2f} s")
            collection = TaxiiServer(f"{server.url}/taxii2/", user="partner", password="bench-password").api_roots[0].collections[0]
            for what, call in (("objects page of 100", lambda: collection.get_objects(limit=100)),
                               ("manifest page of 100", lambda: collection.get_manifest(limit=100)),
                               ("objects page of 1000", lambda: collection.get_objects(limit=1000))):
                started = time.perf_counter()
                call()
                print(f"{what}: {time.perf_counter() - started:.3f} s")
            # A page deep in the collection, reached by `next` from the page before it.
            page = collection.get_manifest(limit=1000)
            for _ in range(4):
                page = collection.get_manifest(limit=1000, next=page["next"])
            started = time.perf_counter()
            collection.get_objects(limit=100, next=page["next"])
            print(f"objects page of 100 after 5,000 (next): {time.perf_counter() - started:.3f} s")
            object_id = collection.get_manifest(limit=1)["objects"][0]["id"]
            started = time.perf_counter()
            collection.get_object(object_id)
            print(f"one object by id: {time.perf_counter() - started:.3f} s")
            # BENCH_EXPORTS narrows the formats (an old build's STIX export of 10 M needs ~60 GB).
            for fmt in os.environ.get("BENCH_EXPORTS", "edl-ip,nft,suricata,stix").split(","):
                elapsed, size, before, peak = fetch_measured(server, f"/api/v1/intel/export/{fmt}")
                print(f"export {fmt}: {elapsed:.2f} s, {size / 2**20:.0f} MiB, server RSS {before:.0f} MiB -> peak {peak:.0f} MiB")
        finally:
            server.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000, sys.argv[2] if len(sys.argv) > 2 else None)
