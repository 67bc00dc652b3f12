"""How long a TAXII 2.1 partner waits for a page of a large collection (not a test: run it by
hand, with a release build for figures worth reporting).

    SENTINELLA_BIN=$CARGO_TARGET_DIR/release/sentinella python3 tests/e2e/bench_intel_taxii.py 1000000
"""

import hashlib
import ipaddress
import sys
import tempfile
import time
from pathlib import Path

from taxii2client.v21 import Server as TaxiiServer

from conftest import Server


def main(n_indicators):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        config = tmp / "sentinella.toml"
        config.write_text("\n".join([
            "[intel]", "retro_match_hours = 0", "[[intel.partners]]", 'name = "Partner"', 'max_tlp = "amber"',
            'collections = ["indicators"]', 'username = "partner"',
            f'password_sha256 = "{hashlib.sha256(b"bench-password").hexdigest()}"', ""]))
        base = int(ipaddress.IPv4Address("10.0.0.0"))
        feed = "".join(f"{ipaddress.IPv4Address(base + 3 * i + 1)}\n" for i in range(n_indicators)).encode()
        server = Server(tmp / "data", tmp / "server.log", extra_args=["--config", str(config)]).start()
        try:
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
            object_id = collection.get_manifest(limit=1)["objects"][0]["id"]
            started = time.perf_counter()
            collection.get_object(object_id)
            print(f"one object by id: {time.perf_counter() - started:.3f} s")
        finally:
            server.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000)
