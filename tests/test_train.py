import math

import pytest
import torch

from seqlab.device import seed_everything
from seqlab.train import History, fit, to_device


def regression_batches(n_batches=20, batch=16):
    g = torch.Generator().manual_seed(0)
    w = torch.tensor([[2.0], [-3.0]])
    out = []
    for _ in range(n_batches):
        x = torch.randn(batch, 2, generator=g)
        out.append((x, x @ w + 0.5))
    return out


def mse(model, batch):
    x, y = batch
    return torch.nn.functional.mse_loss(model(x), y)


def test_fit_learns_and_records_history():
    seed_everything(0)
    model = torch.nn.Linear(2, 1)
    h = fit(model, regression_batches(), mse, torch.optim.SGD(model.parameters(), lr=0.1), epochs=5,
            eval_fn=lambda m: {"w0": m.weight[0, 0].item()}, progress=False)
    assert h.epoch == [1, 2, 3, 4, 5]
    assert h.train_loss[-1] < 0.01 < h.train_loss[0]
    assert len(h.step_loss) == 100 and len(h.metrics["w0"]) == 5
    assert h.metrics["w0"][-1] == pytest.approx(2.0, abs=0.05)
    assert all(t > 0 for t in h.throughput)
    assert h.last()["epoch"] == 5 and not h.grad_norm


def test_clipping_matches_clip_grad_norm_and_records_norms():
    batches = regression_batches(1)
    models = [torch.nn.Linear(2, 1) for _ in range(2)]
    models[1].load_state_dict(models[0].state_dict())
    h = fit(models[0], batches, mse, torch.optim.SGD(models[0].parameters(), lr=0.1), clip_grad_norm=0.01, progress=False)
    opt = torch.optim.SGD(models[1].parameters(), lr=0.1)
    mse(models[1], batches[0]).backward()
    norm = torch.nn.utils.clip_grad_norm_(models[1].parameters(), 0.01)
    opt.step()
    assert h.grad_norm == [pytest.approx(float(norm))] and float(norm) > 0.01
    torch.testing.assert_close(models[0].weight, models[1].weight)


def test_callback_stops_and_max_steps():
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    h = fit(model, regression_batches(), mse, opt, epochs=10, callback=lambda hist: len(hist.epoch) == 2, progress=False)
    assert h.epoch == [1, 2]
    h = fit(model, regression_batches(), mse, opt, epochs=10, max_steps=25, progress=False)
    assert len(h.step_loss) == 25 and h.epoch == [1, 2]


def test_loss_with_item_count():
    model = torch.nn.Linear(2, 1)
    h = fit(model, regression_batches(2), lambda m, b: (mse(m, b), 100), torch.optim.SGD(model.parameters(), lr=0.0),
            progress=False)
    assert h.throughput[0] == pytest.approx(200 / h.seconds[0], rel=1e-6)
    assert h.train_loss[0] == pytest.approx(sum(h.step_loss) / 2)


@pytest.mark.parametrize("kwargs, message", [({"epochs": 0}, "epochs"), ({"clip_grad_norm": 0}, "clip_grad_norm"),
                                             ({"max_steps": 0}, "max_steps")])
def test_bad_arguments(kwargs, message):
    model = torch.nn.Linear(2, 1)
    with pytest.raises(ValueError, match=message):
        fit(model, regression_batches(1), mse, torch.optim.SGD(model.parameters(), lr=0.1), progress=False, **kwargs)


def test_diverging_loss_raises_with_advice():
    model = torch.nn.Linear(2, 1)
    with pytest.raises(FloatingPointError, match="learning rate"):
        fit(model, regression_batches(), lambda m, b: mse(m, b) * math.inf, torch.optim.SGD(model.parameters(), lr=0.1),
            progress=False)


def test_to_device_moves_nested_batches():
    batch = {"x": (torch.zeros(1), [torch.ones(2)]), "n": 3}
    moved = to_device(batch, "cpu")
    assert moved["n"] == 3 and moved["x"][1][0].device.type == "cpu"
    assert isinstance(History().last(), dict)


def test_to_device_keeps_namedtuples_and_containers():
    from seqlab.data.batching import make_seq2seq_batch

    batch = make_seq2seq_batch([([5, 6], [7]), ([8], [9, 10])], bos_index=1, eos_index=2)
    moved = to_device(batch, "meta")  # a real move on any machine: the "meta" device holds shapes only
    assert type(moved) is type(batch) and moved._fields == batch._fields
    assert all(t.device.type == "meta" for t in moved) and moved.tgt_in.shape == batch.tgt_in.shape
    nested = {"pair": (torch.zeros(2), [torch.ones(3), "label"]), "batch": batch, "n": 3}
    out = to_device(nested, "meta")
    assert isinstance(out["pair"], tuple) and isinstance(out["pair"][1], list) and out["pair"][1][1] == "label"
    assert out["pair"][1][0].device.type == "meta" and type(out["batch"]) is type(batch) and out["n"] == 3
    assert to_device(batch, None) is batch


def test_count_uses_the_first_tensor_of_any_container():
    from seqlab.data.batching import make_lm_batch
    from seqlab.train import _count

    lm = make_lm_batch([[1, 4, 2], [1, 5, 6, 2], [1, 2]])
    assert _count(lm) == 3
    assert _count({"x": torch.zeros(5, 2), "y": torch.zeros(7)}) == 5
    assert _count(((torch.zeros(4, 1), torch.zeros(9)), torch.zeros(2))) == 4
    assert _count(torch.zeros(6, 3)) == 6 and _count(["no tensor"]) == 1


def test_to_device_moves_a_packed_sequence_whole_and_count_gives_its_sequences():
    from torch.nn.utils.rnn import PackedSequence, pack_sequence

    packed = pack_sequence([torch.zeros(2, 3), torch.zeros(4, 3), torch.zeros(1, 3)], enforce_sorted=False)
    for batch in (packed, {"x": packed, "y": torch.zeros(3)}, (packed, [torch.ones(3)])):
        moved = to_device(batch, "meta")  # pytree alone would rebuild it with batch_sizes on "meta": an error
        m = moved if isinstance(moved, PackedSequence) else (moved["x"] if isinstance(moved, dict) else moved[0])
        assert type(m) is PackedSequence and m.data.device.type == "meta" and m.sorted_indices.device.type == "meta"
        assert m.batch_sizes.device.type == "cpu" and torch.equal(m.batch_sizes, packed.batch_sizes)
    from seqlab.train import _count

    assert _count(packed) == 3 and _count({"x": packed}) == 3  # sequences, not the 7 packed rows


def test_count_skips_scalar_tensors_and_follows_dict_order():
    from seqlab.train import _count

    assert _count({"step": torch.tensor(4), "x": torch.zeros(5, 2)}) == 5  # a 0-d tensor has no rows
    assert _count({"y": torch.zeros(7), "x": torch.zeros(5, 2)}) == 7
    assert _count((torch.tensor(1.0), "text")) == 1


def test_fit_and_evaluate_count_the_rows_of_a_dict_batch():
    model = torch.nn.Linear(2, 1)
    batches = [{"x": x, "y": y} for x, y in regression_batches(3, batch=8)]
    loss_fn = lambda m, b: torch.nn.functional.mse_loss(m(b["x"]), b["y"])  # noqa: E731
    h = fit(model, batches, loss_fn, torch.optim.SGD(model.parameters(), lr=0.0), progress=False, device="cpu")
    assert h.throughput[0] == pytest.approx(24 / h.seconds[0], rel=1e-6)  # 3 batches of 8 rows, not 3 items
    from seqlab.train import evaluate

    uneven = [{"x": torch.zeros(3, 2), "y": torch.zeros(3, 1)}, {"x": torch.zeros(1, 2), "y": torch.ones(1, 1)}]
    with torch.no_grad():
        model.weight.zero_()
        model.bias.zero_()
    assert evaluate(model, uneven, loss_fn)["loss"] == pytest.approx(1 / 4)  # rows weigh: (3·0 + 1·1) / 4


class TinyLM(torch.nn.Module):
    def __init__(self, vocab_size=12):
        super().__init__()
        self.embedding = torch.nn.Embedding(vocab_size, 8)
        self.dropout = torch.nn.Dropout(0.5)
        self.out = torch.nn.Linear(8, vocab_size)

    def loss(self, inputs, targets):
        logits = self.out(self.dropout(self.embedding(inputs)))  # (B, T, V)
        n = int((targets != 0).sum())
        return torch.nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=0), n


def test_evaluate_weights_batches_by_tokens_and_restores_the_mode():
    from seqlab.data.batching import LanguageModelBatches
    from seqlab.train import evaluate

    torch.manual_seed(0)
    model = TinyLM()
    seqs = [[1] + torch.randint(3, 12, (int(n),)).tolist() + [2] for n in torch.randint(1, 9, (30,))]
    batches = list(LanguageModelBatches(seqs, 7, shuffle=False))
    model.train()
    result = evaluate(model, batches, lambda m, b: m.loss(*b))
    assert model.training  # back to training mode
    with torch.no_grad():  # reference: one big batch in eval mode, every target token weighted once
        model.eval()
        inputs, targets = next(iter(LanguageModelBatches(seqs, len(seqs), shuffle=False)))
        expected, n = model.loss(inputs, targets)
    assert n == sum(len(s) - 1 for s in seqs)
    assert result["loss"] == pytest.approx(expected.item(), rel=1e-5)
    assert result["perplexity"] == pytest.approx(math.exp(expected.item()), rel=1e-5)
    assert set(result) == {"loss", "perplexity"}
    # eval mode (no dropout) and no graph, and a mode of eval stays eval
    assert evaluate(model, batches, lambda m, b: m.loss(*b))["loss"] == pytest.approx(result["loss"])
    assert not model.training
    grads = []
    evaluate(model, batches, lambda m, b: grads.append(m.loss(*b)[0].requires_grad) or m.loss(*b))
    assert grads and not any(grads)


def test_evaluate_without_counts_weights_by_rows_and_refuses_nothing():
    from seqlab.train import evaluate

    model = torch.nn.Linear(2, 1)
    batches = [(torch.zeros(3, 2), torch.zeros(3, 1)), (torch.zeros(1, 2), torch.ones(1, 1))]
    with torch.no_grad():
        model.weight.zero_()
        model.bias.zero_()
    result = evaluate(model, batches, mse)
    assert result["loss"] == pytest.approx((3 * 0.0 + 1 * 1.0) / 4)  # rows weigh, not batches (that gives 0.5)
    with pytest.raises(ValueError, match="no batches"):
        evaluate(model, [], mse)


def test_fit_moves_namedtuple_batches():
    from seqlab.data.batching import LanguageModelBatches

    torch.manual_seed(0)
    model = TinyLM()
    seqs = [[1, 3, 4, 5, 2], [1, 6, 7, 2], [1, 8, 9, 10, 11, 2]] * 4
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    h = fit(model, LanguageModelBatches(seqs, 4), lambda m, b: m.loss(*b), optimizer, epochs=3, device="cpu",
            progress=False)
    assert h.train_loss[-1] < h.train_loss[0]


def test_evaluate_restores_mixed_modes_of_submodules():
    from seqlab.train import evaluate

    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout(0.5))
    model.train()
    model[1].eval()  # e.g. a frozen part
    evaluate(model, [(torch.zeros(3, 2), torch.zeros(3, 2))], mse)
    assert model.training and model[0].training and not model[1].training
