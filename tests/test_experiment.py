"""seqlab.experiment.compare and seqlab.train.EarlyStopping: same seed and data per setting, fresh models,
settings that change what they say, early stopping that keeps the best weights; plot_runs draws them."""

import matplotlib.pyplot as plt
import pytest
import torch
from torch import nn

from seqlab.experiment import Setting, compare
from seqlab.metrics import accuracy_by_group, distinct_n, repetition_rate
from seqlab.nn.init import initialize
from seqlab.plot import plot_runs
from seqlab.train import EarlyStopping, History, fit


def batches(n=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        x = torch.randn(16, 3, generator=g)
        out.append((x, x @ torch.tensor([[1.0], [-2.0], [0.5]])))
    return out


def mse(model, batch):
    x, y = batch
    return nn.functional.mse_loss(model(x), y)


def make_model(hidden=8):
    return nn.Sequential(nn.Linear(3, hidden), nn.Tanh(), nn.Linear(hidden, 1))


def sgd(lr):
    return lambda m: torch.optim.SGD(m.parameters(), lr=lr)


def test_same_setting_twice_gives_the_same_run_and_settings_change_only_what_they_say():
    data = batches()
    runs = compare(make_model, {"a": Setting(), "b": Setting(), "fast": Setting(optimizer=sgd(0.1)),
                                "wide": {"model": {"hidden": 32}}},
                   batches=data, loss_fn=mse, optimizer=sgd(0.01), epochs=3)
    assert list(runs) == ["a", "b", "fast", "wide"]
    assert runs["a"].history.step_loss == runs["b"].history.step_loss
    assert runs["a"].model is not runs["b"].model
    assert runs["a"].history.step_loss[0] == runs["fast"].history.step_loss[0]  # same start, other optimiser
    assert runs["fast"].history.train_loss[-1] < runs["a"].history.train_loss[-1]
    assert runs["wide"].n_params == 3 * 32 + 32 + 32 + 1 and runs["a"].n_params == 3 * 8 + 8 + 8 + 1
    assert all(r.seconds > 0 and len(r.history.epoch) == 3 for r in runs.values())


def test_init_scheduler_loss_and_fit_options_per_setting():
    data = batches()
    runs = compare(make_model, {
        "zeros": Setting(init=lambda m: initialize(m, "zeros")),
        "steps": Setting(fit={"max_steps": 4}),
        "decay": Setting(scheduler=lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=5, gamma=0.0)),
        "l1": Setting(loss_fn=lambda m, b: nn.functional.l1_loss(m(b[0]), b[1])),
    }, batches=data, loss_fn=mse, optimizer=sgd(0.05), epochs=2)
    zero = runs["zeros"].model
    assert (zero[0].weight == 0).all()  # zero init: no gradient reaches the first layer's weights
    assert len(runs["steps"].history.step_loss) == 4
    decayed = runs["decay"].history.step_loss
    assert decayed[5] == decayed[15] and decayed[6] == decayed[16]  # lr 0 after 5 steps: same batch, same loss
    assert runs["l1"].history.step_loss[0] != runs["steps"].history.step_loss[0]


def test_batches_from_a_function_are_made_after_reseeding():
    calls = []

    def make_batches():
        g = torch.Generator().manual_seed(torch.randint(0, 10**6, ()).item())  # depends on the global seed
        calls.append(g.initial_seed())
        return batches(3, seed=g.initial_seed())

    compare(make_model, {"x": Setting(), "y": Setting(model={"hidden": 64})}, batches=make_batches,
            loss_fn=mse, optimizer=sgd(0.01))
    assert len(calls) == 2 and calls[0] == calls[1]  # a bigger model draws more numbers, the data stay the same


def test_compare_refuses_an_iterator_empty_settings_and_no_optimizer():
    with pytest.raises(ValueError, match="iterator"):
        compare(make_model, {"a": Setting()}, batches=iter(batches()), loss_fn=mse, optimizer=sgd(0.1))
    with pytest.raises(ValueError, match="empty"):
        compare(make_model, {}, batches=batches(), loss_fn=mse, optimizer=sgd(0.1))
    with pytest.raises(ValueError, match="no optimizer"):
        compare(make_model, {"a": Setting()}, batches=batches(), loss_fn=mse)


def test_early_stopping_stops_after_patience_and_restores_the_best_weights():
    torch.manual_seed(0)
    model = nn.Linear(1, 1)
    values = iter([5.0, 3.0, 4.0, 2.5, 2.6, 2.7, 2.8, 1.0])
    weights = {}

    def eval_fn(m):
        weights[len(weights) + 1] = m.weight.item()
        return {"valid": next(values)}

    stopper = EarlyStopping(model, "valid", patience=3)
    data = [(torch.randn(4, 1), torch.randn(4, 1)) for _ in range(2)]
    h = fit(model, data, mse, torch.optim.SGD(model.parameters(), lr=0.1), epochs=8, eval_fn=eval_fn,
            callback=stopper, progress=False)
    assert h.epoch == [1, 2, 3, 4, 5, 6, 7]  # best at epoch 4, three epochs without improvement
    assert stopper.best_epoch == 4 and stopper.best_value == 2.5 and stopper.stopped_epoch == 7
    assert model.weight.item() == pytest.approx(weights[4])


def test_early_stopping_max_mode_min_delta_and_bad_input():
    model = nn.Linear(1, 1)
    stopper = EarlyStopping(model, "acc", patience=1, mode="max", min_delta=0.1)
    h = History()
    for epoch, acc in enumerate([0.5, 0.55], start=1):
        h.epoch.append(epoch)
        h.metrics.setdefault("acc", []).append(acc)
        stopped = stopper(h)
    assert stopped and stopper.best_epoch == 1  # 0.55 is not 0.1 better than 0.5
    with pytest.raises(KeyError, match="eval_fn"):
        EarlyStopping(model, "missing")(h)
    for kwargs in ({"patience": 0}, {"mode": "lowest"}, {"min_delta": -1.0}):
        with pytest.raises(ValueError):
            EarlyStopping(model, "acc", **kwargs)


def test_plot_runs_draws_one_panel_per_metric_and_one_line_per_run():
    runs = compare(make_model, {"a": Setting(), "b": Setting(optimizer=sgd(0.2))}, batches=batches(),
                   loss_fn=mse, optimizer=sgd(0.05), epochs=3, eval_fn=lambda m: {"驗證損失": 1.0})
    fig = plot_runs(runs, metrics=("step_loss", "train_loss", "驗證損失"), smooth=5, logy=True,
                    baselines={"基準": 0.5}, title="比較")
    assert len(fig.axes) == 3
    assert len(fig.axes[0].lines) == 3  # two runs and the baseline
    assert len(fig.axes[0].lines[0].get_xdata()) == 30 - 5 + 1
    plt.close(fig)
    with pytest.raises(ValueError, match="unknown metric"):
        plot_runs(runs, metrics=("accuracy",))
    with pytest.raises(ValueError):
        plot_runs({}, metrics=("train_loss",))


def test_distinct_n_and_repetition_rate():
    texts = ["夢你你你的", "夢你的"]
    assert distinct_n(texts, 1) == pytest.approx(3 / 8)
    assert distinct_n(texts, 2) == pytest.approx(3 / 6)  # 夢你 你你 你你 你的 | 夢你 你的: 3 distinct
    assert repetition_rate(texts, window=1) == pytest.approx(2 / 6)
    assert repetition_rate(["abcab"]) == pytest.approx(2 / 4)
    assert repetition_rate(["abcab"], window=2) == 0.0
    with pytest.raises(ValueError):
        distinct_n(["a"], 2)
    with pytest.raises(ValueError):
        repetition_rate(["a", "b"])
    with pytest.raises(ValueError):
        distinct_n(texts, 0)


def test_accuracy_by_group():
    targets = torch.tensor([0, 0, 1, 2, 2, -1])
    predictions = torch.tensor([0, 1, 1, 0, 2, 2])
    groups = torch.tensor([0, 1, 1])  # class 0 alone in group 0, classes 1 and 2 in group 1
    got = accuracy_by_group(predictions, targets, groups, ignore_index=-1)
    assert got == [(pytest.approx(0.5), 2), (pytest.approx(2 / 3), 3)]
    with pytest.raises(ValueError):
        accuracy_by_group(predictions[:3], targets, groups)


def test_paired_accuracy_difference():
    from seqlab.metrics import paired_accuracy_difference

    a = torch.tensor([1, 1, 0, 0, 1, 0, 1, 1])
    b = torch.tensor([1, 1, 1, 0, 1, 1, 1, 0])
    diff, se = paired_accuracy_difference(a, b)
    d = (b - a).double()
    assert diff == pytest.approx(1 / 8)
    assert se == pytest.approx((d.std() / 8 ** 0.5).item())
    assert paired_accuracy_difference(a, a) == (0.0, 0.0)
    with pytest.raises(ValueError):
        paired_accuracy_difference(a, b[:4])


def test_a_diverging_setting_raises_or_is_recorded_while_the_others_train():
    settings = {"ok": Setting(), "too fast": Setting(optimizer=sgd(50.0)), "also ok": Setting(optimizer=sgd(0.02))}
    with pytest.raises(FloatingPointError, match="learning rate") as caught:
        compare(make_model, settings, batches=batches(), loss_fn=mse, optimizer=sgd(0.01), epochs=3)
    assert caught.value.history.step_loss  # what fit recorded before the loss blew up
    runs = compare(make_model, settings, batches=batches(), loss_fn=mse, optimizer=sgd(0.01), epochs=3,
                   on_divergence="record")
    assert list(runs) == ["ok", "too fast", "also ok"]
    assert runs["ok"].diverged is None and runs["also ok"].diverged is None
    assert "loss became" in runs["too fast"].diverged
    assert len(runs["too fast"].history.step_loss) < 30 == len(runs["ok"].history.step_loss)
    with pytest.raises(ValueError, match="on_divergence"):
        compare(make_model, settings, batches=batches(), loss_fn=mse, optimizer=sgd(0.01), on_divergence="skip")
