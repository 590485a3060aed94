"""benchmarks/calibration.py --paired runs on a records file (a few resamplings: a check that it works, not its
figures, which the README quotes from a real run)."""

import json

from benchmarks import calibration


def test_paired_calibration_reads_matched_seeds_and_prints_both_designs(tmp_path, capsys):
    path = tmp_path / "records.jsonl"
    lines = []
    for seed in range(10):
        common = 0.8 + 0.01 * ((seed * 7) % 5 - 2)  # the seed's own luck, shared by every side
        for variant, extra in (("gru-padded-l1-true_last", 0.0), ("gru-packed-l1", 0.0),
                               ("lstm-padded-l1-true_last", -0.01 + 0.002 * (seed % 3))):
            lines.append(json.dumps({"variant": variant, "seed": seed, "test_acc": common + extra}))
    path.write_text("\n".join(lines) + "\n")
    assert calibration.main(["--paired", "--records", str(path), "--resamples", "30"]) == 0
    printed = capsys.readouterr().out
    assert "same function" in printed and "10 matched seeds" in printed and "(10 of 10 identical)" in printed
    rows = [line for line in printed.splitlines() if line.startswith("| 3, 6, 8 (sequential")]
    assert len(rows) == 4 and sum("| paired |" in r for r in rows) == 2
    same = next(r for r in rows if "| paired |" in r)
    assert same.split("|")[4].strip() == "100.0%"  # identical sides: always equivalent
