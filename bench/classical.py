"""The classical reference a practitioner tries first: TF-IDF (1-2 grams) + logistic regression.

Fitted on the study's own training split and scored on its own test split, with the same tokens and
vocabulary the neural models read (each text is its sequence of vocabulary ids, so truncation by
`data.max_len`, `max_vocab` and `min_freq` apply to it too). Its regularization C is chosen on the
validation split (test decides nothing), then the model is refitted on the training split alone.
The result is cached per data fingerprint (the tensor cache's key), so every study of one dataset
shows the same line without paying for it again. Every page shows it beside the leaderboard.
"""

from __future__ import annotations

import json
import logging
import time

from bench import store
from bench.data.base import cache_dir

log = logging.getLogger(__name__)

NAME = "TF-IDF (1-2 grams) + logistic regression"
C_GRID = (1.0, 4.0, 16.0)


def _documents(encoded) -> list[str]:
    """Each sequence as a string of vocabulary ids ('12 5 873'): the tokens the models read."""
    flat = [str(t) for t in encoded.tokens.tolist()]
    return [" ".join(flat[o:o + n]) for o, n in zip(encoded.offsets.tolist(), encoded.lengths.tolist())]


def fit_reference(splits) -> dict:
    """{model, test_acc, val_acc, C, seconds, train_rows}: the reference scored on `splits`."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    start = time.perf_counter()
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), token_pattern=r"\S+", sublinear_tf=True, min_df=1)
    x_train = vectorizer.fit_transform(_documents(splits.train))
    y_train = splits.train.labels.numpy()

    def model(c: float):
        return LogisticRegression(C=c, solver="saga", tol=1e-3, max_iter=300, random_state=0).fit(x_train, y_train)

    val_acc, best_c = float("nan"), C_GRID[0]
    if len(splits.val):
        x_val, y_val = vectorizer.transform(_documents(splits.val)), splits.val.labels.numpy()
        scores = {c: float(model(c).score(x_val, y_val)) for c in C_GRID}
        best_c = max(scores, key=scores.get)
        val_acc = scores[best_c]
    test_acc = float(model(best_c).score(vectorizer.transform(_documents(splits.test)), splits.test.labels.numpy()))
    return {"model": NAME, "test_acc": test_acc, "val_acc": val_acc, "C": best_c,
            "seconds": round(time.perf_counter() - start, 2), "train_rows": len(splits.train)}


def reference(splits, use_cache: bool = True) -> dict:
    """`fit_reference(splits)`, from the per-user cache when this data was scored before."""
    key = splits.info.get("cache_key")
    path = cache_dir() / "reference" / f"tfidf-{key}.json"
    if use_cache and key and path.is_file():
        try:
            return {**json.loads(path.read_text()), "cache": "hit"}
        except (OSError, ValueError) as e:
            log.warning("ignoring unreadable reference cache %s (%s)", path, e)
    result = fit_reference(splits)
    if use_cache and key:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with store.atomic(path) as f:
                f.write(json.dumps(result).encode())
        except OSError as e:  # a cache that cannot be written costs time, not the run
            log.warning("cannot cache the reference at %s (%s)", path, e)
    return {**result, "cache": "miss"}
