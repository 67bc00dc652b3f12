"""Makes a valid binary EVTX file whose event fields carry XSS payloads.

A real Sysmon log from the EVTX attack samples (`../shared/data/evtx/attack-samples`) is
rewritten in place: chosen EventData and System string values (CommandLine, Image,
TargetFilename, Description, Company, User, Computer…) become markup and `javascript:`
URLs of the *same UTF-16 length*, padded, so that no size, offset or template reference in
the binary XML moves. Then the checksums the format carries are recomputed, so readers that
validate them accept the file:

- per chunk (64 KiB, after the 4 KiB file header), at 0x34: CRC32 of the event records,
  bytes 0x200 .. free-space offset (the u32 at 0x30);
- per chunk, at 0x7C: CRC32 of the chunk header, bytes 0x00..0x78 and 0x80..0x200;
- the file header's CRC32 (bytes 0..0x78, at 0x7C) covers nothing we change.

Optionally the records are moved in time (`--now`): the last one to the current time, the
others keeping their spacing. The record header's FILETIME and the same 8 bytes in the record's
TimeCreated substitution value (found as the one FILETIME in the body within 2 µs of the
SystemTime python-evtx renders) are rewritten, so the events land in the
dashboard's last 24 h.

Original values are read with python-evtx (pure Python, also used by the e2e test to verify
the checksums independently); the rewrite itself is byte-level. Usage:

    python3 tests/e2e/evtx_payloads.py [--now] SOURCE.evtx OUT.evtx
"""

import binascii
import datetime
import struct
import sys
import time
import xml.etree.ElementTree as ET

import Evtx.Evtx as evtx

FILE_HEADER_SIZE = 0x1000
CHUNK_SIZE = 0x10000
RECORD_MAGIC = b"\x2a\x2a\x00\x00"
# Record header: magic, size (u32), record id (u64), time (u64); the size repeats at the end.
RECORD_HEADER_SIZE = 24
NS = "{http://schemas.microsoft.com/win/2004/08/events/event}"
# FILETIME: 100 ns ticks since 1601-01-01; the Unix epoch is this many ticks later.
FILETIME_UNIX_EPOCH = 116444736000000000

# The payloads per field. Each is padded (with `_`) to the original value's length, so it
# must not be longer than the shortest value it replaces in the chosen sample.
PAYLOADS = {
    "CommandLine": "cmd /c \"><img src=x onerror=alert('cmd')><script>alert('script')</script> javascript:alert('js')",
    "ParentCommandLine": "\"><svg onload=alert('parent')>",
    "TargetFilename": "C:\\Users\\Public\\\"><img src=x onerror=alert('evtx-file')>\\javascript:alert(7).7z",
    "Image": "C:\\<svg onload=alert(4)>",
    "ParentImage": "C:\\<svg onload=alert(4)>",
    "Description": "<script>x()</script>",
    "Company": "javascript:alert(9)//",
    "User": "<b onclick=x>u</b>",
    "Computer": "\"><b>W</b>",
}


def fit(payload: str, length: int) -> str:
    """The payload padded to exactly `length` UTF-16 code units."""
    if len(payload) > length:
        raise ValueError(f"payload {payload!r} is longer than the {length} characters it replaces")
    return payload + "_" * (length - len(payload))


def record_values(record) -> dict:
    """The record's targeted string values by field name, as python-evtx renders them."""
    root = ET.fromstring(record.xml())
    values = {}
    computer = root.find(f"{NS}System/{NS}Computer")
    if computer is not None and computer.text:
        values["Computer"] = computer.text
    for data in root.iter(f"{NS}Data"):
        name = data.get("Name")
        if name in PAYLOADS and data.text:
            values[name] = data.text
    return values


def rewrite_record(buf: bytearray, start: int, size: int, values: dict) -> list:
    """Replaces every occurrence of each value's UTF-16LE bytes inside the record's binary
    XML with its payload. Longer values first: `MSEDGEWIN10\\IEUser` before `MSEDGEWIN10`."""
    body_start, body_end = start + RECORD_HEADER_SIZE, start + size - 4
    replaced = []
    for name, value in sorted(values.items(), key=lambda kv: -len(kv[1])):
        old = value.encode("utf-16-le")
        new = fit(PAYLOADS[name], len(value)).encode("utf-16-le")
        assert len(old) == len(new)
        body = bytes(buf[body_start:body_end])
        n = body.count(old)
        if n == 0:
            # Already replaced as part of a longer value (e.g. ParentImage == Image).
            continue
        buf[body_start:body_end] = body.replace(old, new)
        replaced.append((name, value, n))
    return replaced


def filetime_now() -> int:
    return FILETIME_UNIX_EPOCH + time.time_ns() // 100


def time_created(record) -> int:
    """TimeCreated in microseconds since 1601 (python-evtx renders microseconds)."""
    system_time = ET.fromstring(record.xml()).find(f"{NS}System/{NS}TimeCreated").get("SystemTime")
    when = datetime.datetime.fromisoformat(system_time)
    return (when - datetime.datetime(1601, 1, 1, tzinfo=datetime.timezone.utc)) // datetime.timedelta(microseconds=1)


def move_record_time(buf: bytearray, start: int, size: int, created_us: int, new_time: int) -> None:
    """Sets TimeCreated (the body's one FILETIME within 2 µs of it: python-evtx converts
    through a float) and the record header's FILETIME to `new_time`."""
    body_start, body_end = start + RECORD_HEADER_SIZE, start + size - 8
    found = [i for i in range(body_start, body_end)
             if abs(struct.unpack_from("<Q", buf, i)[0] // 10 - created_us) <= 2]
    assert len(found) == 1, f"TimeCreated of the record at {start:#x} found {len(found)} times"
    struct.pack_into("<Q", buf, found[0], new_time)
    struct.pack_into("<Q", buf, start + 16, new_time)


def fix_chunk_checksums(buf: bytearray, chunk: int) -> None:
    """Recomputes a chunk's event records CRC32 and then its header CRC32."""
    free_space = struct.unpack_from("<I", buf, chunk + 0x30)[0]
    records_crc = binascii.crc32(bytes(buf[chunk + 0x200:chunk + free_space])) & 0xFFFFFFFF
    struct.pack_into("<I", buf, chunk + 0x34, records_crc)
    header = bytes(buf[chunk:chunk + 0x78]) + bytes(buf[chunk + 0x80:chunk + 0x200])
    struct.pack_into("<I", buf, chunk + 0x7C, binascii.crc32(header) & 0xFFFFFFFF)


def make(source: str, out: str, now: bool = False) -> list:
    """Writes the rewritten copy of `source` to `out` (moved to the current time if `now`);
    returns what was replaced, per record."""
    with open(source, "rb") as f:
        buf = bytearray(f.read())
    report = []
    with evtx.Evtx(source) as log:
        records = [(record.offset(), record.size(), record.record_num(), record_values(record),
                    time_created(record)) for record in log.records()]
    latest = max((created for *_, created in records), default=0)
    for start, size, record_num, values, created_us in records:
        assert buf[start:start + 4] == RECORD_MAGIC, f"no record at {start:#x}"
        report.append((record_num, rewrite_record(buf, start, size, values)))
        if now:
            move_record_time(buf, start, size, created_us, filetime_now() - (latest - created_us) * 10)
    n_chunks = (len(buf) - FILE_HEADER_SIZE) // CHUNK_SIZE
    for i in range(n_chunks):
        chunk = FILE_HEADER_SIZE + i * CHUNK_SIZE
        if buf[chunk:chunk + 8] == b"ElfChnk\x00":
            fix_chunk_checksums(buf, chunk)
    with open(out, "wb") as f:
        f.write(buf)
    return report


def verify(path: str) -> list:
    """Checks the file as python-evtx reads it: file header and every chunk's checksums,
    every record's size fields; returns each record's XML."""
    xml = []
    with evtx.Evtx(path) as log:
        assert log.get_file_header().verify(), "file header checksum"
        for chunk in log.chunks():
            assert chunk.verify(), f"chunk checksums at {chunk.offset():#x}"
            for record in chunk.records():
                assert record.verify(), f"record {record.record_num()} size fields"
                xml.append(record.xml())
    return xml


if __name__ == "__main__":
    args = sys.argv[1:]
    move_to_now = "--now" in args
    args = [arg for arg in args if arg != "--now"]
    if len(args) != 2:
        sys.exit(__doc__)
    for record_num, replaced in make(args[0], args[1], now=move_to_now):
        for name, value, n in replaced:
            print(f"record {record_num}: {name} ({n}x) {value!r}")
    print(f"{len(verify(args[1]))} records, checksums valid")
