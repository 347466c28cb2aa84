"""Controlled experiments: one model factory, several settings, the same seed and the same data.

Chapter 4 changes one thing at a time (the initialisation, the optimiser, the schedule, the loss,
a regulariser) and compares the results. :func:`compare` does the bookkeeping every such
experiment needs, so that the lessons do not each write their own loop: for every named
:class:`Setting` it reseeds, builds a fresh model and fresh batches, trains with
:func:`seqlab.train.fit`, and returns a :class:`Run` with the model, its history and its time.
``seqlab.plot.plot_runs`` draws the histories side by side.

    runs = compare(make_model, {
        "SGD": Setting(optimizer=lambda m: torch.optim.SGD(m.parameters(), lr=0.1)),
        "Adam": Setting(optimizer=lambda m: torch.optim.Adam(m.parameters(), lr=1e-3)),
    }, batches=make_batches, loss_fn=loss_fn, optimizer=default_optimizer, epochs=5, eval_fn=evaluate)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from seqlab.device import seed_everything
from seqlab.train import History, LossFn, fit

OptimizerFactory = Callable[[nn.Module], torch.optim.Optimizer]


@dataclass(frozen=True)
class Setting:
    """What one run changes; everything it leaves as None comes from :func:`compare`'s arguments.

    ``model``: keyword arguments for the model factory (``dropout=0.5``). ``init``: a function applied
    to the fresh model before training (``lambda m: initialize(m, "xavier")``). ``optimizer``: a
    factory taking the model. ``scheduler``: a factory taking the optimizer, stepped after every
    optimizer step. ``loss_fn``: replaces the shared loss. ``fit``: any other keyword of
    :func:`seqlab.train.fit` (``epochs``, ``clip_grad_norm``, ``max_steps``, ``eval_fn``).
    """

    model: Mapping[str, Any] = field(default_factory=dict)
    init: Callable[[nn.Module], Any] | None = None
    optimizer: OptimizerFactory | None = None
    scheduler: Callable[[torch.optim.Optimizer], Any] | None = None
    loss_fn: LossFn | None = None
    fit: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Run:
    """One trained setting: the model after training, its history, wall time and parameter count."""

    name: str
    setting: Setting
    model: nn.Module
    history: History
    seconds: float
    n_params: int
    callback: Any = None  # what make_callback built for this run (an EarlyStopping, say)
    diverged: str | None = None  # with on_divergence="record": why the run stopped (its loss became nan or inf)


def _batches_for_run(batches: Iterable | Callable[[], Iterable]) -> Iterable:
    if callable(batches) and not hasattr(batches, "__iter__"):
        return batches()
    if iter(batches) is batches:
        raise ValueError("batches is an iterator, which the first run would use up: pass a list, "
                         "or a function that returns fresh batches")
    return batches


def compare(
    make_model: Callable[..., nn.Module],
    settings: Mapping[str, Setting | Mapping[str, Any]],
    *,
    batches: Iterable | Callable[[], Iterable],
    loss_fn: LossFn,
    optimizer: OptimizerFactory | None = None,
    epochs: int = 1,
    eval_fn: Callable[[nn.Module], dict[str, float]] | None = None,
    make_callback: Callable[[nn.Module], Callable[[History], bool | None]] | None = None,
    seed: int = 0,
    device: torch.device | str | None = None,
    progress: bool = False,
    on_divergence: str = "raise",
    **fit_kwargs: Any,
) -> dict[str, Run]:
    """Train ``make_model(**setting.model)`` once per setting, each from ``seed_everything(seed)``.

    ``batches`` is a list reused by every run or, when the batches shuffle or are drawn at random,
    a function that returns them: it is called after reseeding, so every run sees the same data in
    the same order. ``optimizer`` is the shared optimiser factory (a setting may replace it; one of
    the two must be given). ``make_callback(model)`` builds a fresh callback per run (e.g.
    ``lambda m: EarlyStopping(m, "驗證損失")``). Other keywords go to :func:`seqlab.train.fit`.
    A setting whose loss becomes nan or inf raises ``FloatingPointError`` (``on_divergence="raise"``)
    or, with ``on_divergence="record"``, becomes a run with ``diverged`` set to the reason and the
    history recorded until then, and the other settings still train (a learning-rate sweep, say).
    Returns the runs by name, in the order of ``settings``.
    """
    if on_divergence not in ("raise", "record"):
        raise ValueError(f"on_divergence must be 'raise' or 'record', got {on_divergence!r}")
    if not settings:
        raise ValueError("settings is empty: give at least one named Setting")
    runs: dict[str, Run] = {}
    for name, setting in settings.items():
        if not isinstance(setting, Setting):
            setting = Setting(**setting)
        seed_everything(seed)
        model = make_model(**setting.model)
        if setting.init is not None:
            setting.init(model)
        model = model.to(device) if device is not None else model
        make_optimizer = setting.optimizer or optimizer
        if make_optimizer is None:
            raise ValueError(f"setting {name!r} has no optimizer and compare() was given none")
        opt = make_optimizer(model)
        scheduler = setting.scheduler(opt) if setting.scheduler is not None else None
        callback = make_callback(model) if make_callback is not None else None
        options = {"epochs": epochs, "eval_fn": eval_fn, "device": device, "progress": progress, **fit_kwargs,
                   **setting.fit}
        seed_everything(seed)
        data = _batches_for_run(batches)
        start, diverged = time.perf_counter(), None
        try:
            history = fit(model, data, setting.loss_fn or loss_fn, opt, scheduler=scheduler, callback=callback,
                          **options)
        except FloatingPointError as error:
            if on_divergence == "raise":
                raise
            history, diverged = getattr(error, "history", History()), str(error)
        seconds = time.perf_counter() - start
        n_params = sum(p.numel() for p in model.parameters())
        runs[name] = Run(name, setting, model, history, seconds, n_params, callback, diverged)
    return runs
