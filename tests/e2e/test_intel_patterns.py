"""Our STIX 2.1 pattern parser agrees with the OASIS validator (stix2-patterns) on a corpus of
valid and invalid patterns: the patterns of every indicator in ../shared/data/cti plus
hand-written tricky and invalid ones (testdata/stix/patterns.tsv)."""

import subprocess

from stix2patterns.validator import run_validator

from conftest import BIN, ROOT


def corpus():
    rows = []
    for line in (ROOT / "testdata" / "stix" / "patterns.tsv").read_text().splitlines():
        if line.startswith("#") or not line:
            continue
        verdict, pattern = line.split("\t", 1)
        rows.append((verdict == "valid", pattern))
    return rows


def oasis_valid(pattern):
    try:
        return len(run_validator(pattern, "2.1")) == 0
    except Exception:  # the validator crashes on a few inputs: it does not accept them
        return False


def test_corpus_verdicts_are_the_oasis_validators():
    rows = corpus()
    assert len(rows) > 150
    assert sum(valid for valid, _ in rows) > 100 and sum(not valid for valid, _ in rows) > 40
    wrong = [p for valid, p in rows if oasis_valid(p) != valid]
    assert not wrong, wrong


def test_sentinella_agrees_with_stix2_patterns():
    rows = corpus()
    result = subprocess.run([BIN, "intel", "check-pattern"], input="\n".join(p for _, p in rows) + "\n",
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    verdicts = result.stdout.splitlines()
    assert len(verdicts) == len(rows)
    disagreements = [(p, v) for (_, p), v in zip(rows, verdicts) if v.startswith("valid") != oasis_valid(p)]
    assert not disagreements, disagreements
    # Patterns needing several events are valid but reported as pattern-only.
    assert any("pattern-only: FOLLOWEDBY" in v for v in verdicts)
