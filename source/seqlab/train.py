"""One training loop for every chapter: ``fit()`` reports progress and returns a history.

It shows a ``tqdm.auto`` bar (a widget in Jupyter, text elsewhere) with the running loss and
throughput, optionally clips the gradient norm, evaluates after each epoch and calls a callback.
It never draws: ``seqlab.plot.plot_history`` draws from the returned history.
:func:`evaluate` runs the same ``loss_fn`` over held-out batches and returns the mean loss and
perplexity. :class:`EarlyStopping` is a callback that stops when a validation number stops
improving and keeps the best weights.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.nn.utils.rnn import PackedSequence
from torch.utils import _pytree as pytree
from tqdm.auto import tqdm

from seqlab.metrics import perplexity

Batch = Any
LossFn = Callable[[torch.nn.Module, Batch], "torch.Tensor | tuple[torch.Tensor, int]"]


@dataclass
class History:
    """What happened during ``fit``: one entry per epoch, plus every step's loss."""

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)  # mean over the epoch's items
    seconds: list[float] = field(default_factory=list)  # wall time of the epoch
    throughput: list[float] = field(default_factory=list)  # items per second
    metrics: dict[str, list[float]] = field(default_factory=dict)  # from eval_fn
    step_loss: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)  # before clipping, when clipping

    def last(self) -> dict[str, float]:
        """The latest epoch's numbers as one flat dict."""
        if not self.epoch:
            return {}
        row = {"epoch": self.epoch[-1], "train_loss": self.train_loss[-1],
               "seconds": self.seconds[-1], "throughput": self.throughput[-1]}
        row.update({k: v[-1] for k, v in self.metrics.items() if v})
        return row


def to_device(batch: Batch, device: torch.device | str | None) -> Batch:
    """Move a tensor, or tensors nested in tuples, NamedTuples, lists and dicts, to ``device``.

    The containers keep their type (a :class:`~seqlab.data.batching.Seq2SeqBatch` stays one):
    torch's pytree utilities rebuild them around the moved tensors. A ``PackedSequence`` moves
    as one piece (its ``batch_sizes`` stay on the CPU, where torch requires them). Anything that
    is not a tensor (an int, a string) is left as it is.
    """
    if device is None:
        return batch

    def move(x):
        if isinstance(x, PackedSequence):
            return x.to(device)
        return x.to(device, non_blocking=True) if isinstance(x, torch.Tensor) else x

    return pytree.tree_map(move, batch, is_leaf=_is_packed)


def _is_packed(x: Any) -> bool:
    # pytree would take a PackedSequence apart as a named tuple and rebuild it with batch_sizes moved too
    return isinstance(x, PackedSequence)


def _count(batch: Batch) -> int:
    """Items in a batch: the rows of its first tensor that has rows (containers searched in order,
    a dict by its keys' order), the number of sequences of a ``PackedSequence``, or 1 if it holds none."""
    for x in pytree.tree_leaves(batch, is_leaf=_is_packed):
        if isinstance(x, PackedSequence):
            return int(x.batch_sizes[0])
        if isinstance(x, torch.Tensor) and x.dim() > 0:
            return int(x.shape[0])
    return 1


def fit(
    model: torch.nn.Module,
    batches: Iterable[Batch],
    loss_fn: LossFn,
    optimizer: torch.optim.Optimizer,
    *,
    epochs: int = 1,
    clip_grad_norm: float | None = None,
    eval_fn: Callable[[torch.nn.Module], dict[str, float]] | None = None,
    callback: Callable[[History], bool | None] | None = None,
    scheduler: Any = None,
    device: torch.device | str | None = None,
    max_steps: int | None = None,
    unit: str = "samples",
    progress: bool = True,
) -> History:
    """Train ``model`` for ``epochs`` passes over ``batches`` and return a :class:`History`.

    ``loss_fn(model, batch)`` returns the mean loss of the batch, or ``(loss, n)`` where ``n``
    counts the items it averaged over (tokens, say) for throughput and the epoch mean.
    ``clip_grad_norm`` rescales gradients whose total norm exceeds it. ``eval_fn(model)``
    runs after each epoch in ``eval`` mode under ``torch.no_grad()``. ``callback(history)``
    runs after each epoch; returning ``True`` stops training. ``max_steps`` caps the total
    number of optimizer steps (a dry run). A loss that is not finite raises ``FloatingPointError``;
    its ``history`` attribute holds what was recorded until then.
    """
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    if clip_grad_norm is not None and clip_grad_norm <= 0:
        raise ValueError(f"clip_grad_norm must be > 0 or None, got {clip_grad_norm}")
    if max_steps is not None and max_steps < 1:
        raise ValueError(f"max_steps must be >= 1 or None, got {max_steps}")
    history = History()
    steps = 0
    for epoch in range(1, epochs + 1):
        model.train()
        total_loss, total_items, start = 0.0, 0, time.perf_counter()
        total = len(batches) if hasattr(batches, "__len__") else None
        bar = tqdm(batches, total=total, desc=f"epoch {epoch}/{epochs}", disable=not progress,
                   leave=epoch == epochs, unit="batch")
        for batch in bar:
            batch = to_device(batch, device)
            out = loss_fn(model, batch)
            loss, n = out if isinstance(out, tuple) else (out, _count(batch))
            if not torch.isfinite(loss):
                bar.close()
                error = FloatingPointError(f"loss became {loss.item()} at step {steps + 1}; lower the learning rate or clip gradients")
                error.history = history  # what was recorded before it diverged
                raise error
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if clip_grad_norm is not None:
                norm = torch.nn.utils.clip_grad_norm_(model.parameters(), clip_grad_norm)
                history.grad_norm.append(float(norm))
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            steps += 1
            value = float(loss.detach())
            history.step_loss.append(value)
            total_loss += value * int(n)
            total_items += int(n)
            elapsed = max(time.perf_counter() - start, 1e-9)
            bar.set_postfix(loss=f"{total_loss / max(total_items, 1):.4f}",
                            **{f"{unit}/s": f"{total_items / elapsed:,.0f}"})
            if max_steps is not None and steps >= max_steps:
                break
        bar.close()
        seconds = time.perf_counter() - start
        history.epoch.append(epoch)
        history.train_loss.append(total_loss / max(total_items, 1) if total_items else math.nan)
        history.seconds.append(seconds)
        history.throughput.append(total_items / max(seconds, 1e-9))
        if eval_fn is not None:
            model.eval()
            with torch.no_grad():
                for name, value in eval_fn(model).items():
                    history.metrics.setdefault(name, []).append(float(value))
        if callback is not None and callback(history):
            break
        if max_steps is not None and steps >= max_steps:
            break
    return history


def evaluate(model: torch.nn.Module, batches: Iterable[Batch], loss_fn: LossFn,
             device: torch.device | str | None = None) -> dict[str, float]:
    """Mean loss of ``model`` over ``batches`` and its perplexity, without training.

    ``loss_fn(model, batch)`` is the one given to :func:`fit`: it returns a batch's mean loss, or
    ``(loss, n)`` with the number of items (tokens) it averaged over. Batches are weighted by
    ``n`` (by the rows of the batch otherwise), so the result is the mean over all items,
    ``loss = Σ_batches n·loss / Σ_batches n``, not the mean of batch means; with a cross-entropy
    loss ``perplexity = exp(loss)`` (:func:`seqlab.metrics.perplexity`). The model runs in
    ``eval`` mode (no dropout) under ``torch.no_grad()``, and goes back to the mode it was in.
    Returns ``{"loss": ..., "perplexity": ...}``.
    """
    modes = [(module, module.training) for module in model.modules()]  # put back exactly, submodules too
    model.eval()
    total, count = 0.0, 0
    try:
        with torch.no_grad():
            for batch in batches:
                batch = to_device(batch, device)
                out = loss_fn(model, batch)
                loss, n = out if isinstance(out, tuple) else (out, _count(batch))
                total += float(loss) * int(n)
                count += int(n)
    finally:
        for module, training in modes:
            module.training = training
    if count == 0:
        raise ValueError("evaluate got no batches (or only batches of 0 items): there is nothing to average")
    mean = total / count
    return {"loss": mean, "perplexity": perplexity(mean)}


class EarlyStopping:
    """A ``fit`` callback: stop once ``metric`` has not improved for ``patience`` epochs.

    ``metric`` names an entry of ``History.metrics`` (what ``eval_fn`` returns) or
    ``"train_loss"``; ``mode`` says whether lower (``"min"``) or higher (``"max"``) is better, and an
    improvement must beat the best so far by more than ``min_delta``. The weights of the best epoch
    are kept (a copy on the CPU); :meth:`restore` puts them back into the model, and happens by
    itself when training stops early if ``restore_best`` is true. After a run that was never
    stopped, call :meth:`restore` to get the best epoch rather than the last.
    """

    def __init__(self, model: torch.nn.Module, metric: str, patience: int = 3, mode: str = "min",
                 min_delta: float = 0.0, restore_best: bool = True) -> None:
        if patience < 1:
            raise ValueError(f"patience must be >= 1, got {patience}")
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        if min_delta < 0:
            raise ValueError(f"min_delta must be >= 0, got {min_delta}")
        self.model, self.metric, self.patience, self.mode = model, metric, patience, mode
        self.min_delta, self.restore_best = min_delta, restore_best
        self.best_value: float | None = None
        self.best_epoch: int | None = None
        self.stopped_epoch: int | None = None
        self._best_state: dict[str, torch.Tensor] | None = None

    def _value(self, history: History) -> float:
        if self.metric == "train_loss":
            return history.train_loss[-1]
        if self.metric not in history.metrics:
            raise KeyError(f"EarlyStopping watches {self.metric!r}, but the history has {sorted(history.metrics)} "
                           "(return it from eval_fn)")
        return history.metrics[self.metric][-1]

    def _improves(self, value: float) -> bool:
        if self.best_value is None:
            return True
        if self.mode == "min":
            return value < self.best_value - self.min_delta
        return value > self.best_value + self.min_delta

    def __call__(self, history: History) -> bool:
        value = self._value(history)
        if self._improves(value):
            self.best_value, self.best_epoch = value, history.epoch[-1]
            self._best_state = {k: v.detach().to("cpu", copy=True) for k, v in self.model.state_dict().items()}
            return False
        if history.epoch[-1] - self.best_epoch >= self.patience:
            self.stopped_epoch = history.epoch[-1]
            if self.restore_best:
                self.restore()
            return True
        return False

    def restore(self) -> None:
        """Load the best epoch's weights back into the model (nothing to do before the first epoch)."""
        if self._best_state is not None:
            self.model.load_state_dict(self._best_state)  # copies the values in
