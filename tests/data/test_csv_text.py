import pytest

from bench.config import CsvConfig, DataConfig
from bench.data import csv_text
from bench.errors import DataError


def test_header_named_columns_string_labels_and_tsv(tmp_path):
    (tmp_path / "train.tsv").write_text("label\ttitle\tbody\npos\tGreat\tloved it\nneg\tBad\thated it\npos\tFine\tok\n")
    (tmp_path / "test.tsv").write_text("label\ttitle\tbody\nneg\tMeh\tno\n")
    cfg = DataConfig(name="csv", root=str(tmp_path), csv=CsvConfig(
        train="train.tsv", test="test.tsv", header=True, text_cols=["title", "body"], label_col="label"))
    raw = csv_text.read(cfg)
    assert raw.train_texts == ["Great loved it", "Bad hated it", "Fine ok"]
    assert raw.label_names == ["neg", "pos"] and raw.train_labels == [1, 0, 1] and raw.test_labels == [0]


def test_headerless_int_labels_sorted_numerically_and_test_carved(tmp_path):
    rows = "".join(f"{c},text {i} {c}\n" for i in range(10) for c in (10, 2))
    (tmp_path / "all.csv").write_text(rows)
    cfg = DataConfig(name="csv", csv=CsvConfig(train=str(tmp_path / "all.csv"), text_cols=[1], label_col=0,
                                               test_fraction=0.2))
    raw = csv_text.read(cfg)
    assert raw.label_names == ["2", "10"]
    assert len(raw.test_texts) == 4 and sorted(raw.test_labels) == [0, 0, 1, 1]
    assert len(raw.train_texts) == 16 and not set(raw.train_texts) & set(raw.test_texts)


def test_wrong_field_count_and_missing_file(tmp_path):
    (tmp_path / "t.csv").write_text("1,a\n2,b\n3,c,extra\n")
    with pytest.raises(DataError, match=r"t.csv:3: expected 2 fields, found 3"):
        csv_text.read(DataConfig(name="csv", csv=CsvConfig(train=str(tmp_path / "t.csv"))))
    with pytest.raises(DataError, match="no such file"):
        csv_text.read(DataConfig(name="csv", csv=CsvConfig(train=str(tmp_path / "nope.csv"))))


def test_a_byte_order_mark_is_not_part_of_the_first_label(tmp_path):
    """Issue 13, class 2: a UTF-8 BOM (Excel writes one) used to make a fifth class '\\ufeff3'."""
    rows = "".join(f"{1 + i % 4},text {i}\n" for i in range(20))
    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbf" + rows.encode())
    raw = csv_text.read(DataConfig(name="csv", csv=CsvConfig(train=str(tmp_path / "bom.csv"), text_cols=[1])))
    assert sorted(raw.label_names) == ["1", "2", "3", "4"]


def test_a_label_seen_once_in_training_is_said_and_header_false_reads_the_first_row(tmp_path):
    rows = "odd,a lone row\n" + "".join(f"{c},text {i} {c}\n" for i in range(6) for c in ("a", "b"))
    (tmp_path / "t.csv").write_text(rows)
    (tmp_path / "test.csv").write_text("a,x\nb,y\n")
    spec = dict(train=str(tmp_path / "t.csv"), test=str(tmp_path / "test.csv"), text_cols=[1], label_col=0)
    with pytest.raises(DataError, match="the first row's label 'odd' occurs nowhere else in the file"):
        csv_text.read(DataConfig(name="csv", csv=CsvConfig(**spec)))  # not said: refused as a likely header
    raw = csv_text.read(DataConfig(name="csv", csv=CsvConfig(**spec, header=False)))  # said: it is data
    assert raw.label_names == ["a", "b", "odd"] and any(
        n.kind == "labels" and n.text.startswith("LABELS SEEN ONCE in training: 'odd': a class with one example")
        for n in raw.notes)


def _long_csv(tmp_path, rows: int, words: int) -> None:
    """`rows` training rows of `words` words each (two classes), and a small test file."""
    text = lambda i: " ".join(f"w{(i * 7 + k) % 50}" for k in range(words))  # noqa: E731
    (tmp_path / "train.csv").write_text("".join(f"{i % 2},{text(i)}\n" for i in range(rows)))
    (tmp_path / "test.csv").write_text("".join(f"{i % 2},x {text(i)}\n" for i in range(20)))


@pytest.mark.parametrize("budget, rows, max_len", [("smoke", 500, 200), ("quick", 1250, 400)])
def test_budgets_bound_a_long_text_csv_measured_from_its_texts(tmp_path, budget, rows, max_len):
    """Issue 24 item 8: a user's CSV of long texts (no name to key on) gets the budget's caps: texts cut to
    data.max_len, then training rows dropped (stratified) until the cut texts fit data.max_tokens; the notes say so."""
    from bench.config import load_study
    from bench.data import load
    _long_csv(tmp_path, rows=2000, words=1000)
    study = load_study(["study=smoke", "data.name=csv", f"data.csv.train={tmp_path}/train.csv",
                        f"data.csv.test={tmp_path}/test.csv", "data.csv.header=false", f"budget={budget}",
                        "data.max_train=null", "data.cache=false"])
    splits = load(study.data)
    assert splits.info["rows_read"]["train"] == 2000
    assert splits.info["rows"]["train"] + splits.info["rows"]["val"] == rows  # max_tokens / max_len rows
    assert int(splits.train.lengths.max()) == max_len
    notes = " ".join(n["text"] for n in splits.info["notes"] if n["kind"] in ("cut", "capped"))
    assert f"texts cut to {max_len} tokens" in notes and "2,000 of the 2,000 training texts read" in notes
    assert f"training rows capped at {rows:,} of 2,000 (data.max_tokens=" in notes


def test_short_texts_are_not_capped_and_the_command_line_lifts_a_cap(tmp_path):
    from bench.config import load_study
    from bench.data import load
    _long_csv(tmp_path, rows=300, words=30)  # 9,000 tokens: under smoke's 100,000
    words = ["study=smoke", "data.name=csv", f"data.csv.train={tmp_path}/train.csv",
             f"data.csv.test={tmp_path}/test.csv", "data.csv.header=false", "data.cache=false"]
    splits = load(load_study(words).data)
    assert splits.info["rows"]["train"] + splits.info["rows"]["val"] == 300
    assert not [n for n in splits.info["notes"] if n["kind"] in ("cut", "capped")]
    _long_csv(tmp_path, rows=300, words=1000)
    splits = load(load_study([*words, "data.max_len=null", "data.max_tokens=null"]).data)
    assert splits.info["rows"]["train"] + splits.info["rows"]["val"] == 300
    assert not [n for n in splits.info["notes"] if n["kind"] in ("cut", "capped")]
    assert int(splits.train.lengths.max()) == 1000


def _rows(n: int = 40):
    import pandas as pd
    return pd.DataFrame({"label": [("pos", "neg", "mid")[i % 3] for i in range(n)],
                         "text": [f"row {i}, with \"quotes\"\tand a tab" for i in range(n)]})


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".jsonl.gz", ".parquet"])
def test_csv_tsv_jsonl_and_parquet_of_the_same_rows_read_the_same(tmp_path, suffix):
    pytest.importorskip("pyarrow", reason="Parquet needs pyarrow (the glove extra; dev has it)")
    frame = _rows()
    frame.to_csv(tmp_path / "ref.csv", index=False)
    path = tmp_path / f"train{suffix}"
    if suffix == ".tsv":
        frame.to_csv(path, sep="\t", index=False)
    elif suffix.startswith(".jsonl"):
        frame.to_json(path, orient="records", lines=True, compression="infer")
    elif suffix == ".parquet":
        frame.to_parquet(path)
    else:
        frame.to_csv(path, index=False)
    spec = dict(header=True, text_cols=["text"], label_col="label", test_fraction=0.25)
    ref = csv_text.read(DataConfig(name="csv", csv=CsvConfig(train=str(tmp_path / "ref.csv"), **spec)))
    raw = csv_text.read(DataConfig(name="csv", csv=CsvConfig(train=str(path), **spec)))
    assert (raw.train_texts, raw.train_labels, raw.test_texts, raw.test_labels, raw.label_names) == \
        (ref.train_texts, ref.train_labels, ref.test_texts, ref.test_labels, ref.label_names)
    assert all(', with "quotes"\tand a tab' in t for t in raw.train_texts), "quotes, commas and tabs survive"
    numbered = csv_text.read(DataConfig(name="csv", csv=CsvConfig(
        train=str(path), text_cols=[1], label_col=0, test_fraction=0.25, header=True)))
    assert numbered.train_texts == ref.train_texts, "columns by position work in every format"


def test_an_unknown_format_or_a_bad_json_line_is_one_line(tmp_path):
    (tmp_path / "t.xlsx").write_text("x")
    with pytest.raises(DataError, match=r"unknown data format '.xlsx': give a CSV \(.csv\), TSV .* or Parquet"):
        csv_text.read(DataConfig(name="csv", csv=CsvConfig(train=str(tmp_path / "t.xlsx"))))
    for name, lines, said in [("t", '{"label": "a", "text": "x"}\n{"label": "b", "text": \n',
                               r"t.jsonl:2: not a JSON object"),
                              ("k", '{"label": "a", "text": "x"}\n{"label": "b"}\n', r"k.jsonl:2: no key 'text'"),
                              ("e", '{"label": null, "text": "x"}\n', r"e.jsonl:1: the label .* is empty")]:
        (tmp_path / f"{name}.jsonl").write_text(lines)
        with pytest.raises(DataError, match=said):
            csv_text.read(DataConfig(name="csv", csv=CsvConfig(train=str(tmp_path / f"{name}.jsonl"),
                                                               text_cols=["text"], label_col="label")))
    (tmp_path / "p.parquet").write_text("not parquet")
    with pytest.raises(DataError, match=r"p.parquet: cannot read it as Parquet"):
        csv_text.read(DataConfig(name="csv", csv=CsvConfig(train=str(tmp_path / "p.parquet"))))
