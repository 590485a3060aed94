import pytest

from bench.data.tokenizer import basic_english


@pytest.mark.parametrize("text, tokens", [
    ("You can now install TorchText using pip!", "you can now install torchtext using pip !"),
    # ' becomes " '  " (its own token), " is deleted, . is split off
    ('He said "don\'t".', "he said don ' t ."),
    ("It's the user's", "it ' s the user ' s"),
    # <br /> becomes a space, after . and ' are handled
    ("first line.<br />Second<br />line", "first line . second line"),
    ("a<br/>b", "a<br/>b"),  # only the exact `<br />` form
    # runs of punctuation: every mark its own token
    ("Wait...what?!", "wait . . . what ? !"),
    ("Really?!?", "really ? ! ?"),
    # : and ; become spaces
    ("time: 10:30; done", "time 10 30 done"),
    ("(AP) -- Hello, world", "( ap ) -- hello , world"),
    ("U.S. $5.50", "u . s . $5 . 50"),
    ("tabs\tand\nnewlines   here ", "tabs and newlines here"),
    ("", ""),
])
def test_basic_english_matches_the_lesson(text, tokens):
    assert basic_english(text) == tokens.split()
