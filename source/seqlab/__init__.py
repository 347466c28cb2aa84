"""seqlab: the from-scratch sequence models, data and tools of the course 序列模型 (Sequence Models).

Import what you use from its module, e.g. ``from seqlab.text import Vocab``.
"""

__version__ = "0.1.0"
