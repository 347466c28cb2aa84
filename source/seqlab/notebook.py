"""Small helpers for lesson notebooks: shape checks and numbers glued into the prose.

``glue`` stores a value under a name so the page's text can quote it (``{glue:text}`name```)
when the book is built with myst-nb; elsewhere (Colab, plain Jupyter) it just displays it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch


def check_shape(x: torch.Tensor, shape: Sequence[int]) -> None:
    """Raise ``ValueError`` unless ``x.shape == shape`` (d2l's check_shape, with a clear message)."""
    if tuple(x.shape) != tuple(shape):
        raise ValueError(f"expected shape {tuple(shape)}, got {tuple(x.shape)}")


def glue(name: str, value: Any, display: bool = False) -> None:
    """Store ``value`` as ``name`` for the book's text (myst-nb).

    Outside a myst-nb build the value is shown when ``display`` is true, so nothing breaks on
    Colab, where myst-nb is not installed. Returns None, so a ``glue(...)`` on the last line of
    a cell prints nothing.
    """
    try:
        from myst_nb import glue as _glue
    except ImportError:
        if display:
            print(f"{name} = {value}")
        return
    _glue(name, value, display=display)
