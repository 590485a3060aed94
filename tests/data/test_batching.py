import torch

from bench.data.batching import Encoded, batches, collate


def test_collate_pads_to_the_longest_and_keeps_lengths_on_cpu():
    data = Encoded.from_lists([[5, 6, 7], [8], [9, 10]], [0, 1, 2])
    batch = collate(data, torch.tensor([2, 0, 1]), pad_index=0)
    assert batch.tokens.tolist() == [[9, 10, 0], [5, 6, 7], [8, 0, 0]]
    assert batch.lengths.tolist() == [2, 3, 1] and batch.lengths.device.type == "cpu"
    assert batch.labels.tolist() == [2, 0, 1]
    assert (batch.real_tokens, batch.padded_tokens) == (6, 9)


def test_batches_cover_every_row_once_and_shuffle_by_seed():
    data = Encoded.from_lists([[i + 1] * (i % 4 + 1) for i in range(10)], list(range(10)))
    in_order = [b.labels.tolist() for b in batches(data, 4, 0)]
    assert in_order == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    first = [b.labels.tolist() for b in batches(data, 4, 0, torch.Generator().manual_seed(1))]
    again = [b.labels.tolist() for b in batches(data, 4, 0, torch.Generator().manual_seed(1))]
    assert first == again and sorted(sum(first, [])) == list(range(10)) and first != in_order


def test_bucketed_batches_cover_every_row_once_with_less_padding():
    torch.manual_seed(0)
    lengths = torch.randint(1, 80, (1000,)).tolist()
    data = Encoded.from_lists([[1] * n for n in lengths], [0] * 1000)

    def pad_fraction(bucketed: bool, seed: int = 0) -> tuple[float, list[int]]:
        got = list(batches(data, 16, 0, torch.Generator().manual_seed(seed), bucketed=bucketed))
        real, padded = sum(b.real_tokens for b in got), sum(b.padded_tokens for b in got)
        return 1 - real / padded, sorted(int(n) for b in got for n in b.lengths)

    random_pad, random_rows = pad_fraction(False)
    bucketed_pad, bucketed_rows = pad_fraction(True)
    assert bucketed_rows == random_rows == sorted(lengths), "every row exactly once"
    assert random_pad > 0.4 and bucketed_pad < 0.05
    first = [b.lengths.tolist() for b in batches(data, 16, 0, torch.Generator().manual_seed(1), bucketed=True)]
    again = [b.lengths.tolist() for b in batches(data, 16, 0, torch.Generator().manual_seed(1), bucketed=True)]
    other = [b.lengths.tolist() for b in batches(data, 16, 0, torch.Generator().manual_seed(2), bucketed=True)]
    assert first == again and first != other, "seeded: the same seed, the same batches"
