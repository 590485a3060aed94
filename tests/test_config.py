import pytest

from bench.config import list_studies, load_study
from bench.errors import ConfigError


def test_shipped_studies_load_and_expand():
    names = list_studies()
    assert {"smoke", "lesson", "packing", "cells", "direction", "depth", "baselines"} <= set(names)
    for name, description in names.items():
        study = load_study([f"study={name}"])
        assert description and study.name == name and study.expand()


def test_base_include_and_overrides_apply():
    study = load_study(["study=packing", "train.lr=3.0e-3", "train.epochs=4", "measure.seeds=[3,5]",
                        "data.root=/some/where", "data.max_train=500", "out=/tmp/x", "device=cpu"])
    assert (study.train.lr, study.train.epochs, study.seeds) == (3e-3, 4, [3, 5])
    assert study.train.hidden_size == 64  # from _base.yaml
    assert (study.data.root, study.data.max_train, str(study.out_dir), study.device) == ("/some/where", 500, "/tmp/x", "cpu")
    assert load_study(["study=packing", "measure.seeds=3"]).seeds == [0, 1, 2]


def test_axes_on_the_command_line_replace_the_study_values():
    assert [v.name for v in load_study(["study=packing", "cell=gru"]).expand()] == [
        "gru-padded-l1", "gru-padded-l1-true_last", "gru-packed-l1"]
    names = [v.name for v in load_study(["study=depth", "cell=[lstm]", "layers=[1,2,3]"]).expand()]
    assert names == ["lstm-packed-l1", "lstm-packed-l2", "lstm-packed-l3"]
    fixed_axis = load_study(["study=cells", "packing=[padded,packed]"]).expand()
    assert len(fixed_axis) == 6  # a fixed axis becomes compared
    lesson = load_study(["study=lesson", "cell=gru"]).expand()
    assert lesson[0].name == "gru-padded-l1-mean" and all(v.cell == "gru" for v in lesson)


@pytest.mark.parametrize("argv, message", [
    (["study=nosuch"], "unknown study 'nosuch': choose one of .*packing"),
    ([], "no study given"),
    (["study=packing", "train.lrr=1"], "unknown key 'train.lrr': did you mean 'train.lr'"),
    (["study=packing", "trian.epochs=1"], "did you mean 'train.epochs'"),
    (["study=packing", "cell=foo"], "cell='foo' is not allowed: use one of rnn, lstm, gru"),
    (["study=packing", "layers=0"], "layers=0 is not allowed"),
    (["study=packing", "train.patience=0"], "train.patience=0 is not allowed: use a whole number >= 1"),
    (["study=packing", "measure.timing_steps=-1"], "measure.timing_steps=-1 is not allowed"),
    (["study=packing", "train.lr=-1.0"], "train.lr=-1.0 is not allowed"),
    (["study=packing", "train.hidden_size=-4"], "train.hidden_size=-4 is not allowed"),
    (["study=packing", "model.hidden_size=4"], "'model.hidden_size' was removed: every trainable-run setting is in train: now: use train.hidden_size"),
    (["study=packing", "train.batch_size=0"], "train.batch_size=0 is not allowed"),
    (["study=packing", "train.dropout=1.5"], "train.dropout=1.5 is not allowed"),
    (["study=packing", "train.epochs=abc"], "train.epochs='abc' is not allowed: use a whole number >= 1"),
    (["study=packing", "measure.seeds=0"], "measure.seeds=0 is not allowed"),
    (["study=packing", "device=tpu"], "device='tpu' is not allowed"),
    (["study=packing", "train.lr"], "arguments are key=value"),
    (["study=packing", "cell=[lstm"], "cannot read 'cell=\\[lstm'"),
    (["study=packing", "data.name=yelp"], "data.name='yelp' is not allowed: use one of ag_news, csv, imdb, synthetic"),
    (["study=packing", "data.truncate=middle"], "data.truncate='middle' is not allowed: use one of head, tail, both"),
])
def test_bad_input_is_one_line_naming_the_fix(argv, message):
    with pytest.raises(ConfigError, match=message) as info:
        load_study(argv)
    assert "\n" not in str(info.value)


def test_yaml_typos_fail_like_command_line_typos(tmp_path, monkeypatch):
    import bench.config as config
    (tmp_path / "_base.yaml").write_text("train: {epochs: 1}\n")
    (tmp_path / "typo.yaml").write_text("description: x\ninclude: _base.yaml\ntrain: {epohcs: 2}\nscientific: {cell: [gru]}\n")
    monkeypatch.setattr(config, "STUDIES_DIR", tmp_path)
    with pytest.raises(ConfigError, match="unknown key 'train.epohcs': did you mean 'train.epochs'"):
        load_study(["study=typo"])


def test_sparse_adam_is_accepted_where_no_tuning_searches_weight_decay():
    """The lesson study inherits a nuisance space with weight_decay but never tunes: sparse Adam is fine there."""
    study = load_study(["study=lesson", "train.sparse_embedding=true"])
    assert study.train.sparse_embedding and study.tune.trials == 0 and "weight_decay" in study.nuisance


def test_a_study_is_frozen_keeps_its_words_and_derives_its_points_from_them():
    """Nothing after load_study needs argv: a sweep point or a worker is `study.at(...)`, checked again, and its
    words (the page's reproduce line, a worker's command) change with it."""
    study = load_study(["study=packing", "train.lr=3.0e-3", "cell=gru"])
    assert study.words == ("study=packing", "train.lr=3.0e-3", "cell=gru")
    with pytest.raises(Exception):
        study.train = None  # frozen
    point = study.at(**{"train.lr": 0.01, "out": "/tmp/p", "workers": 1})
    assert (point.train.lr, point.out, study.train.lr, study.out) == (0.01, "/tmp/p", 3e-3, None)
    assert point.words == ("study=packing", "cell=gru", "train.lr=0.01", "out=/tmp/p", "workers=1")
    assert load_study(list(point.words)) == point
    assert point.command == "python -m bench.run study=packing cell=gru train.lr=0.01 out=/tmp/p workers=1"
    with pytest.raises(ConfigError, match="train.lr=-1.0 is not allowed: use a finite number > 0"):
        study.at(**{"train.lr": -1.0})


def test_rnnbench_studies_adds_the_users_folder_to_the_shipped_studies(tmp_path, monkeypatch):
    import bench.config as config
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "tiny.yaml").write_text("description: mine\ninclude: _base.yaml\nscientific: {cell: [gru]}\n")
    monkeypatch.setenv("RNNBENCH_STUDIES", str(mine))
    found = config.list_studies()
    assert found["tiny"] == "mine" and {"smoke", "packing", "lesson"} <= set(found), "added, not replaced"
    assert load_study(["study=tiny"]).scientific == {"cell": ["gru"]}  # its include: _base.yaml is the shipped one
    assert load_study(["study=smoke"]).name == "smoke"
    assert load_study([f"study={mine / 'tiny.yaml'}"]).scientific == {"cell": ["gru"]}  # a path works too
    monkeypatch.setenv("RNNBENCH_STUDIES", str(tmp_path / "nowhere"))
    with pytest.raises(ConfigError, match=r"RNNBENCH_STUDIES=.*nowhere is not a folder"):
        load_study(["study=smoke"])


def test_the_reproduce_line_has_absolute_paths_and_keeps_the_study_files_text(tmp_path, monkeypatch):
    (tmp_path / "mine.yaml").write_text("description: mine\ninclude: _base.yaml\nscientific: {cell: [gru]}\n")
    monkeypatch.chdir(tmp_path)
    study = load_study(["study=mine.yaml", "data.root=../data", "out=runs/x", "data.name=csv",
                        "data.csv.train=t.csv", "storage=sqlite:///rel.db"])
    words = study.command.split()
    assert f"study={tmp_path / 'mine.yaml'}" in words and f"data.root={tmp_path.parent / 'data'}" in words
    assert f"out={tmp_path / 'runs' / 'x'}" in words and f"data.csv.train={tmp_path / 't.csv'}" in words
    assert "storage=sqlite:///rel.db" in words, "a URL is left as typed"
    assert study.study_file == {"path": str(tmp_path / "mine.yaml"), "text": (tmp_path / "mine.yaml").read_text()}
    assert load_study(["study=smoke"]).study_file is None
