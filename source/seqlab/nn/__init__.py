"""From-scratch neural network modules, one concept per module (``seqlab.nn.word2vec``, ...)."""
