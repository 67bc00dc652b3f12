"""Real attacks: `sentinella hunt` with the SigmaHQ Windows rules over the EVTX attack samples
gives a stable, reviewed result.

The golden `testdata/sigma/attack-samples.golden.tsv` holds the detections per file and rule
(sorted, paths relative to the samples folder); `attack-samples.review.md` next to it is the
analyst's review of that result. Refresh with `UPDATE_EXPECT=1`, then review the diff.
"""

import json
import os
import subprocess
from collections import Counter

import pytest

from conftest import BIN, ROOT, SHARED

ATTACK_SAMPLES = SHARED / "evtx" / "attack-samples"
WINDOWS_RULES = SHARED / "sigma" / "rules" / "windows"
GOLDEN = ROOT / "testdata" / "sigma" / "attack-samples.golden.tsv"

pytestmark = pytest.mark.skipif(
    not (ATTACK_SAMPLES.is_dir() and WINDOWS_RULES.is_dir()),
    reason=f"{ATTACK_SAMPLES} or {WINDOWS_RULES} not found",
)

HEADER = "# file\trule_id\tlevel\trule_title\tdetections\n"


def summary(detections):
    """One line per (file, rule) with its count, sorted; then one total line per rule."""
    per_file = Counter()
    per_rule = Counter()
    for d in detections:
        rel = os.path.relpath(d["file"], ATTACK_SAMPLES)
        key = (d["rule_id"], d["level"], d["rule_title"])
        per_file[(rel, *key)] += 1
        per_rule[key] += 1
    lines = [HEADER]
    lines += ["\t".join(map(str, (*k, n))) + "\n" for k, n in sorted(per_file.items())]
    lines.append("# total per rule: rule_id\tlevel\trule_title\tdetections\n")
    lines += ["\t".join(map(str, (*k, n))) + "\n" for k, n in sorted(per_rule.items())]
    return "".join(lines)


def test_attack_samples_golden():
    result = subprocess.run(
        [BIN, "hunt", "--rules", WINDOWS_RULES, "--format", "jsonl", ATTACK_SAMPLES],
        capture_output=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-3000:]
    detections = [json.loads(line) for line in result.stdout.decode().splitlines() if line.strip()]
    # Every detection names its rule, level and file (the golden is built from them).
    for d in detections:
        assert d["rule_id"] and d["rule_title"] and d["level"] and d["file"]
    actual = summary(detections)
    if os.environ.get("UPDATE_EXPECT"):
        GOLDEN.write_text(actual)
        return
    expected = GOLDEN.read_text()
    if expected != actual:
        old, new = set(expected.splitlines()), set(actual.splitlines())
        diff = [f"- {line}" for line in sorted(old - new)] + [f"+ {line}" for line in sorted(new - old)]
        pytest.fail(
            f"{GOLDEN.relative_to(ROOT)} is out of date (UPDATE_EXPECT=1 to refresh, then review):\n"
            + "\n".join(diff[:200])
        )
    print(f"attack samples: {len(detections)} detections, as in the golden")
