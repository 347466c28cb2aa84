"""Corpora (real, offline, checked) and the code that turns them into training batches.

Modules: ``cache`` (where data lives, sha256 checks), ``corpora`` (People's Daily, product
reviews), ``poetry`` (Tang poems via npm), ``digits`` (scikit-learn's handwritten digits, split once), ``skipgram`` (word2vec training pairs and negative
sampling), ``synthetic`` (tasks with a known answer, such as the adding problem).
"""

from seqlab.data.cache import ChecksumError, MissingDataError
from seqlab.data.corpora import peoples_daily, peoples_daily_words, product_reviews

__all__ = ["ChecksumError", "MissingDataError", "peoples_daily", "peoples_daily_words", "product_reviews"]
