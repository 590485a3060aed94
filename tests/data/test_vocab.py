from bench.data.vocab import PAD, UNK, build_vocab


def test_frequency_order_with_alphabetical_ties_and_distinct_specials():
    vocab = build_vocab([["b", "a", "c", "a"], ["c", "d", "a"]])
    assert vocab.itos == [PAD, UNK, "a", "c", "b", "d"]  # a:3, c:2, then b and d tie at 1
    assert (vocab.pad_index, vocab.unk_index) == (0, 1)
    assert vocab.encode(["c", "zzz"]) == [3, 1]


def test_min_freq_and_max_size():
    tokens = [["x"] * 5 + ["y"] * 3 + ["z"] * 2 + ["w"]]
    assert build_vocab(tokens, min_freq=2).itos == [PAD, UNK, "x", "y", "z"]
    assert build_vocab(tokens, max_size=2).itos == [PAD, UNK, "x", "y"]


def test_lesson_mode_shares_index_zero():
    vocab = build_vocab([["the", "cat"]], shared_pad_unk=True)
    assert vocab.itos == [UNK, "cat", "the"]
    assert vocab.pad_index == vocab.unk_index == 0
    assert vocab.encode(["dog"]) == [0]
