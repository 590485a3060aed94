"""Shared settings along a study's `share:` axes (study=smoke shares along packing): each group of variants that
differ only along those axes is tuned once, together, and its members' seeds train at the same settings, so their
pairs are decided on per-seed differences (bench.pipeline._tune, bench.report.effects.design)."""

from __future__ import annotations

import json

import optuna
import pandas as pd
import pytest

from bench import store
from bench.config import load_study
from bench.variants import group_name, groups, parse, shared_fixed


def test_groups_differ_only_along_the_shared_axes():
    study = load_study(["study=packing"])
    assert study.share == ["packing", "readout"]
    found = [[v.name for v in g] for g in study.groups()]
    assert found == [[f"{c}-padded-l1", f"{c}-padded-l1-true_last", f"{c}-packed-l1"] for c in ("rnn", "lstm", "gru")]
    assert [len(g) for g in load_study(["study=cells"]).groups()] == [1, 1, 1]  # cells: each tuned on its own
    assert [[v.name for v in g] for g in load_study(["study=embeddings"]).groups()][0] == [
        "rnn-padded-l1-true_last", "rnn-padded-l1-true_last-glove"]
    glove = [parse("lstm-padded-l1-true_last"), parse("lstm-padded-l1-true_last-glove")]
    assert shared_fixed(glove) == {"embed_dim": 50}  # the group shares GloVe's width: the pair differs in its init alone
    assert group_name(glove) == "lstm-padded-l1-true_last+lstm-padded-l1-true_last-glove"
    assert group_name(glove[:1]) == "lstm-padded-l1-true_last"  # alone: the Optuna study keeps its old name
    assert groups(glove, []) == [[glove[0]], [glove[1]]]


def test_share_names_axes_only():
    from bench.errors import ConfigError
    with pytest.raises(ConfigError, match="share: unknown axis 'pakcing'.*packing"):
        load_study(["study=packing", "share=[pakcing]"])


def test_a_group_is_tuned_once_and_its_seeds_train_at_its_settings(smoke_study):
    records = store.load(smoke_study)
    storage = optuna.storages.RDBStorage(f"sqlite:///{smoke_study / 'optuna.db'}")
    names = optuna.get_all_study_names(storage)
    tuning = store.load_tuning(smoke_study)
    study = store.load_study(smoke_study)
    for cell in ("rnn", "lstm", "gru"):
        padded, packed = f"{cell}-padded-l1-true_last", f"{cell}-packed-l1-true_last"
        group = f"smoke/{padded}+{packed}"
        assert group in names and f"smoke/{padded}" not in names and f"smoke/{packed}" not in names
        trials = optuna.load_study(study_name=group, storage=storage).trials
        assert len(trials) == study["tune"]["trials"]  # one budget per variant: k members x trials trainings
        complete = [t for t in trials if t.state.name == "COMPLETE"]
        assert complete and all(set(t.user_attrs["members"]) == {padded, packed} for t in complete)
        for t in complete:  # the objective is the members' mean best validation accuracy
            assert t.value == pytest.approx(sum(t.user_attrs["members"].values()) / 2)
        mine = [r for r in records if r["variant"] in (padded, packed)]
        assert {r["settings_from"] for r in mine} == {group}
        assert {json.dumps(r["hyperparameters"], sort_keys=True) for r in mine} == {
            json.dumps(mine[0]["hyperparameters"], sort_keys=True)}  # one set of settings for both
        assert tuning[padded] == tuning[packed] and tuning[padded]["members"] == [padded, packed]
        assert tuning[padded]["shared_axes"] == ["packing"]


def test_the_page_says_which_variants_shared_settings_and_which_design_decided(smoke_study):
    effects = pd.read_csv(smoke_study / "effects.csv")
    packing = effects[effects["axis"] == "packing"]
    assert set(packing["design"]) == {"paired"} and packing["seeds_paired"].eq(2).all()
    assert set(effects.loc[effects["axis"] == "cell", "design"]) == {"unpaired"}  # each cell's group is its own
    page = (smoke_study / "index.html").read_text()
    assert ("Tuned once, together" in page and "rnn-padded-l1-true_last + rnn-packed-l1-true_last (along packing)" in page
            and "decided on per-seed differences" in page)
    assert "here: paired, unpaired" in page  # the rule paragraph names the designs the table holds
