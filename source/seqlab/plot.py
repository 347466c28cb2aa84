"""Plots for the book, with Chinese labels that render everywhere.

:func:`use_chinese_font` registers Noto Sans CJK TC, which the ``cvttf-NotoSansCJK-Regular``
wheel installs next to seqlab (a dependency), so Chinese text renders with no system fonts,
on a fresh machine and on Colab alike. Every drawing function calls it.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import torch
from matplotlib import font_manager

from seqlab.train import History

FONT_PACKAGE = "cvttf_NotoSansCJK_Regular"


def chinese_font_path() -> Path:
    """Where the bundled Noto Sans CJK TC font file is; raises an error saying what to install."""
    import importlib.util

    spec = importlib.util.find_spec(FONT_PACKAGE)
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            fonts = sorted(Path(location).glob("*.otf")) + sorted(Path(location).glob("*.ttf"))
            if fonts:
                return fonts[0]
    raise FileNotFoundError("No Chinese font found. Install it: pip install cvttf-NotoSansCJK-Regular")


@lru_cache(maxsize=1)
def use_chinese_font() -> str:
    """Register the bundled CJK font with matplotlib and make it the default; returns its name."""
    path = chinese_font_path()
    font_manager.fontManager.addfont(str(path))
    name = font_manager.FontProperties(fname=str(path)).get_name()
    matplotlib.rcParams["font.family"] = "sans-serif"
    matplotlib.rcParams["font.sans-serif"] = [name, *matplotlib.rcParams["font.sans-serif"]]
    matplotlib.rcParams["axes.unicode_minus"] = False  # the font's minus sign is the ASCII one
    return name


def plot_history(history: History, metrics: Sequence[str] | None = None, title: str = "訓練過程"):
    """Training loss per epoch (left) and, if any, the evaluation metrics per epoch (right)."""
    use_chinese_font()
    names = list(metrics) if metrics is not None else list(history.metrics)
    fig, axes = plt.subplots(1, 2 if names else 1, figsize=(10 if names else 5, 3.5), squeeze=False)
    ax = axes[0, 0]
    ax.plot(history.epoch, history.train_loss, marker="o", label="訓練損失")
    ax.set_xlabel("訓練輪數（epoch）")
    ax.set_ylabel("損失（loss）")
    ax.legend()
    if names:
        ax2 = axes[0, 1]
        for name in names:
            ax2.plot(history.epoch, history.metrics[name], marker="o", label=name)
        ax2.set_xlabel("訓練輪數（epoch）")
        ax2.set_ylabel("評估分數")
        ax2.legend()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_step_loss(history: History, smooth: int = 50, title: str = "每一步的損失"):
    """Every step's loss with a moving average over ``smooth`` steps."""
    use_chinese_font()
    if smooth < 1:
        raise ValueError(f"smooth must be >= 1, got {smooth}")
    losses = torch.tensor(history.step_loss)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(losses.numpy(), alpha=0.3, label="每一步")
    if len(losses) >= smooth:
        avg = losses.unfold(0, smooth, 1).mean(1)
        ax.plot(range(smooth - 1, len(losses)), avg.numpy(), label=f"{smooth} 步移動平均")
    ax.set_xlabel("步數（step）")
    ax.set_ylabel("損失（loss）")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    return fig


def project_2d(vectors: torch.Tensor) -> torch.Tensor:
    """Project (N, E) vectors onto their first two principal components: (N, 2)."""
    if vectors.dim() != 2 or vectors.size(0) < 2:
        raise ValueError(f"vectors must be an (N, E) matrix with N >= 2, got shape {tuple(vectors.shape)}")
    x = vectors.detach().float()
    x = x - x.mean(0, keepdim=True)
    _, _, v = torch.pca_lowrank(x, q=min(2, *x.shape), center=False)
    return x @ v[:, :2]


def plot_embedding_map(
    vectors: torch.Tensor,
    words: Sequence[str],
    groups: Sequence[str] | None = None,
    title: str = "詞向量的二維投影（PCA）",
):
    """Scatter words at the 2-D PCA projection of their vectors, coloured by ``groups``."""
    use_chinese_font()
    if len(words) != vectors.size(0):
        raise ValueError(f"got {len(words)} words for {vectors.size(0)} vectors")
    xy = project_2d(vectors).numpy()
    fig, ax = plt.subplots(figsize=(7, 6))
    labels = list(groups) if groups is not None else ["詞"] * len(words)
    for label in dict.fromkeys(labels):
        idx = [i for i, g in enumerate(labels) if g == label]
        ax.scatter(xy[idx, 0], xy[idx, 1], label=label, s=25)
    for (x, y), word in zip(xy, words):
        ax.annotate(word, (x, y), xytext=(3, 3), textcoords="offset points", fontsize=10)
    ax.set_xlabel("第一主成分")
    ax.set_ylabel("第二主成分")
    ax.set_title(title)
    if groups is not None:
        ax.legend(fontsize=9, loc="best")
    fig.tight_layout()
    return fig


def heatmap(
    matrix: torch.Tensor,
    xlabels: Sequence[str],
    ylabels: Sequence[str],
    title: str = "",
    cmap: str = "viridis",
    annotate: bool = False,
):
    """A labelled heatmap of a 2-D matrix (one-hot codes, similarities, attention weights)."""
    use_chinese_font()
    m = torch.as_tensor(matrix).detach().float()
    if m.dim() != 2 or m.shape != (len(ylabels), len(xlabels)):
        raise ValueError(f"matrix of shape {tuple(m.shape)} does not match {len(ylabels)} x {len(xlabels)} labels")
    fig, ax = plt.subplots(figsize=(max(3.0, 0.5 * len(xlabels) + 1.5), max(2.5, 0.45 * len(ylabels) + 1)))
    im = ax.imshow(m.numpy(), cmap=cmap, aspect="auto")
    ax.set_xticks(range(len(xlabels)), labels=list(xlabels), rotation=45, ha="right")
    ax.set_yticks(range(len(ylabels)), labels=list(ylabels))
    if annotate:
        for i in range(m.size(0)):
            for j in range(m.size(1)):
                ax.text(j, i, f"{m[i, j]:.2g}", ha="center", va="center", color="w", fontsize=8)
    fig.colorbar(im, ax=ax)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def _history_of(run) -> History:
    history = getattr(run, "history", run)
    if not isinstance(history, History):
        raise ValueError(f"expected a History or a Run with a .history, got {type(run).__name__}")
    return history


def _curve(history: History, metric: str, smooth: int) -> tuple[list[float], list[float]]:
    """x and y of one metric: "step_loss" per step (moving average), "train_loss" or an eval metric per epoch."""
    if metric == "step_loss":
        losses = torch.tensor(history.step_loss)
        if len(losses) >= smooth > 1:
            losses = losses.unfold(0, smooth, 1).mean(1)
            return list(range(smooth, len(history.step_loss) + 1)), losses.tolist()
        return list(range(1, len(losses) + 1)), losses.tolist()
    if metric == "train_loss":
        return history.epoch, history.train_loss
    if metric not in history.metrics:
        raise ValueError(f"unknown metric {metric!r}: the history has step_loss, train_loss and {sorted(history.metrics)}")
    values = history.metrics[metric]
    return history.epoch[: len(values)], values


_LABELS = {"step_loss": "損失（loss）", "train_loss": "訓練損失"}


def plot_runs(
    runs,
    metrics: Sequence[str] = ("train_loss",),
    title: str = "",
    smooth: int = 1,
    logy: bool = False,
    baselines: dict[str, float] | None = None,
    figsize: tuple[float, float] | None = None,
):
    """Curves of several runs side by side: one panel per metric, one line per run.

    ``runs`` maps a name to a :class:`~seqlab.train.History` or to anything with a ``.history``
    (a :class:`seqlab.experiment.Run`). A metric is ``"step_loss"`` (every step, averaged over
    ``smooth`` steps), ``"train_loss"`` or an ``eval_fn`` name, drawn per epoch. ``baselines``
    adds labelled horizontal lines to every panel.
    """
    use_chinese_font()
    if not runs:
        raise ValueError("runs is empty")
    if smooth < 1:
        raise ValueError(f"smooth must be >= 1, got {smooth}")
    metrics = list(metrics)
    if not metrics:
        raise ValueError("give at least one metric")
    fig, axes = plt.subplots(1, len(metrics), figsize=figsize or (5.2 * len(metrics), 3.6), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        for name, run in runs.items():
            x, y = _curve(_history_of(run), metric, smooth)
            ax.plot(x, y, marker="o" if metric != "step_loss" and len(x) <= 30 else None, ms=3, label=name)
        for label, value in (baselines or {}).items():
            ax.axhline(value, color="gray", ls="--", lw=1, label=label)
        ax.set_xlabel("步數（step）" if metric == "step_loss" else "訓練輪數（epoch）")
        ax.set_ylabel(_LABELS.get(metric, metric) + (f"（{smooth} 步移動平均）" if metric == "step_loss" and smooth > 1 else ""))
        if logy:
            ax.set_yscale("log")
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
