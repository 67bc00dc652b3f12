"""Sign-in throttling per source address, through the real binary: trusted proxies given
as a network (CIDR), a spraying address blocked, its refusals audited in summary rather
than one by one, and the block surviving a restart."""

from conftest import Server

SPRAYER = "203.0.113.9"
OTHER = "198.51.100.1"


def sign_in(server, user, password, forwarded_for):
    return server.request("POST", "/api/v1/session", {"user": user, "password": password},
                          headers={"X-Forwarded-For": forwarded_for}, token=False)


def audit(server):
    status, body = server.request("GET", "/api/v1/audit?limit=1000")
    assert status == 200, body
    return body["entries"]


def test_blocks_are_trusted_through_a_proxy_network_coalesced_and_persistent(tmp_path):
    config = tmp_path / "sentinella.toml"
    # The test client connects from 127.0.0.1: a proxy, by network.
    config.write_text('trusted_proxies = ["127.0.0.0/8"]\n')
    server = Server(tmp_path / "data", tmp_path / "server.log", extra_args=["--config", str(config)]).start()
    try:
        admin_password = (server.data_dir / "initial-admin-password").read_text().strip()
        # The recommended policy: 20 failures from one address in 15 minutes block it.
        for n in range(20):
            status, body = sign_in(server, f"guess{n % 4}", "Winter2026!", SPRAYER)
            assert status == 401, body
        status, body = sign_in(server, "admin", admin_password, SPRAYER)
        assert status == 403 and body["error"]["code"] == "source_blocked", body
        status, body = sign_in(server, "admin", admin_password, OTHER)
        assert status == 200, body

        entries = audit(server)
        blocked = [e for e in entries if e["action"] == "source_blocked"]
        assert [e["detail"]["source"] for e in blocked] == [SPRAYER], blocked
        failed_sources = {e["detail"].get("source") for e in entries if e["action"] == "sign_in_failed"}
        assert failed_sources == {SPRAYER}, failed_sources

        # The attacker keeps going: 60 more refusals, a handful of audit entries.
        before = len(audit(server))
        for n in range(60):
            status, body = sign_in(server, f"guess{n % 4}", "Winter2026!", SPRAYER)
            assert status == 403, body
        refusals = audit(server)[: len(audit(server)) - before]
        counts = sorted(e["detail"]["refused"] for e in refusals if e["detail"].get("reason") == "source_blocked")
        # Refusals 1 (the admin's attempt above), 10 and… nothing more until 100.
        assert len(refusals) == 1 and counts == [10], refusals
        assert set(refusals[0]["detail"]["names"]) >= {"admin", "guess0"}, refusals[0]

        server.stop()
        server.start()
        # The restart did not lift the block, nor forget the count.
        status, body = sign_in(server, "admin", admin_password, SPRAYER)
        assert status == 403 and body["error"]["code"] == "source_blocked", body
        status, body = sign_in(server, "admin", admin_password, OTHER)
        assert status == 200, body
    finally:
        server.stop()
