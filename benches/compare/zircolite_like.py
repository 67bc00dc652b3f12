"""A Zircolite-style Sigma hunt (pySigma sqlite backend + pyevtx-rs + SQLite), as a baseline.

Usage: python zircolite_like.py RULES.sql EVTX_DIR
RULES.sql: `sigma convert -t sqlite -p sysmon -p windows-logsources -s` output (one query per
blank-line-separated block). Events are flattened the way Zircolite does it: the leaf names of
Event.System and Event.EventData become columns.
"""
import json, os, sqlite3, sys, time, resource
from evtx import PyEvtxParser

def flatten(obj, out):
    for k, v in obj.items():
        if isinstance(v, dict):
            if "#text" in v:
                out[k] = v["#text"]
            elif "#attributes" in v and len(v) == 1:
                for ak, av in v["#attributes"].items():
                    out[ak] = av
            else:
                flatten(v, out)
        elif k != "#attributes":
            out[k] = v

def main():
    rules_path, root = sys.argv[1], sys.argv[2]
    queries = [q.strip() for q in open(rules_path).read().split("\n\n") if q.strip()]
    t0 = time.perf_counter()
    rows, columns = [], {}
    files = 0
    for dirpath, _, names in os.walk(root):
        for name in names:
            if not name.lower().endswith(".evtx"):
                continue
            files += 1
            try:
                for rec in PyEvtxParser(os.path.join(dirpath, name)).records_json():
                    ev = json.loads(rec["data"]).get("Event", {})
                    flat = {}
                    flatten(ev, flat)
                    flat = {k.lower(): v for k, v in flat.items()}
                    for k in flat:
                        columns.setdefault(k, None)
                    rows.append(flat)
            except Exception as err:
                print(f"{name}: {err}", file=sys.stderr)
    t1 = time.perf_counter()
    db = sqlite3.connect(":memory:")
    cols = list(columns)
    db.execute("CREATE TABLE logs (%s)" % ",".join('"%s" TEXT COLLATE NOCASE' % c.replace('"', '""') for c in cols))
    db.executemany("INSERT INTO logs VALUES (%s)" % ",".join("?" * len(cols)),
                   ([None if (v := r.get(c)) is None else str(v) for c in cols] for r in rows))
    t2 = time.perf_counter()
    detections, failed, fired = 0, 0, 0
    for q in queries:
        try:
            n = len(db.execute(q).fetchall())
        except sqlite3.Error:
            failed += 1
            continue
        detections += n
        fired += n > 0
    t3 = time.perf_counter()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"files {files} events {len(rows)} columns {len(cols)} queries {len(queries)} failed {failed}")
    print(f"detections {detections} rules_fired {fired}")
    print(f"decode+flatten {t1-t0:.2f}s load {t2-t1:.2f}s queries {t3-t2:.2f}s total {t3-t0:.2f}s "
          f"events/s {len(rows)/(t3-t0):.0f} peak_rss {rss:.0f} MiB")

main()
