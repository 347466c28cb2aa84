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
