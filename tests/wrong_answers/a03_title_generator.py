"""Plausible wrong answers to a03-title-generator (tokenizer, vocabulary, tied-weight LSTM, masked loss and
train step, perplexity, temperature and top-p sampling, generation); each must lose exactly its task's points.

WRONG_ANSWERS maps the grade_id of an answer cell to (description, source) pairs: the source is the
whole answer cell as a student might hand it in. tests/test_wrong_answers.py grades the solution with
that one cell replaced and checks that only the test cell of that task drops to 0.

Task 6 (the trained model's test perplexity) has no answer cell of its own: the locked training cell
uses the answers to tasks 1-5, so the wrong answers below are chosen among those that a student could
hand in with a model that still trains well (their test perplexity stays under task 6's threshold).
"""

ASSIGNMENT = "a03-title-generator"


from _edits import variant as _variant  # noqa: E402  (tests/wrong_answers is on sys.path when loaded)


# ---- task 1: tokenize (answer cell "tokenize") -----------------------------------------------------------

_TOKENIZE = '''
def tokenize(title):
    if not isinstance(title, str):
        raise ValueError("title must be a str")
    text = "".join(unicodedata.normalize("NFKC", ch) if ch.isdigit() else ch for ch in title)
    simple = to_simplified(text)
    tokens, start = [], 0
    for word in jieba.lcut(simple):
        piece = text[start:start + len(word)]
        start += len(word)
        if not piece.strip():
            continue
        tokens.append(NUM if any(ch.isdigit() for ch in piece) else piece)
    return tokens
'''

TOKENIZE = [
    ("full-width digits not made half-width before segmenting",
     _variant(_TOKENIZE, ('"".join(unicodedata.normalize("NFKC", ch) if ch.isdigit() else ch for ch in title)', "title"))),
    ("no ValueError for a title that is not a string",
     _variant(_TOKENIZE, ('    if not isinstance(title, str):\n        raise ValueError("title must be a str")\n', "    title = str(title or \"\")\n"))),
]

# ---- task 2: build_vocab and encode_title (answer cell "vocab") ------------------------------------------

_VOCAB = '''
def build_vocab(token_lists, min_freq=2):
    if min_freq < 1:
        raise ValueError("min_freq must be >= 1")
    counts = Counter()
    for tokens in token_lists:
        counts.update(tokens)
    return SPECIALS + [t for t, n in counts.most_common() if n >= min_freq and t not in SPECIALS]


def encode_title(tokens, stoi):
    return [BOS_INDEX] + [stoi.get(t, UNK_INDEX) for t in tokens] + [EOS_INDEX]
'''

VOCAB = [
    ("special symbols in the input added a second time",
     _variant(_VOCAB, (" and t not in SPECIALS]", "]"))),
    ("min_freq < 1 accepted", _variant(_VOCAB, ('    if min_freq < 1:\n        raise ValueError("min_freq must be >= 1")\n', ""))),
]

# ---- task 3: TitleLM (answer cell "model") ---------------------------------------------------------------

_MODEL = '''
class TitleLM(nn.Module):
    def __init__(self, vocab_size, embed_dim, hidden_size, num_layers=2, dropout=0.3, pad_index=PAD_INDEX,
                 tie_weights=True):
        super().__init__()
        if tie_weights and embed_dim != hidden_size:
            raise ValueError("tie_weights needs embed_dim == hidden_size")
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_index)
        self.lstm = nn.LSTM(embed_dim, hidden_size, num_layers, batch_first=True,
                            dropout=dropout if num_layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden_size, vocab_size)
        if tie_weights:
            self.out.weight = self.embedding.weight

    def forward(self, tokens, state=None):
        x = self.dropout(self.embedding(tokens))  # (B, T, E)
        output, state = self.lstm(x, state)  # (B, T, H)
        return self.out(self.dropout(output)), state  # (B, T, V)
'''

MODEL = [
    ("dropout only after the embedding, not on the LSTM output",
     _variant(_MODEL, ("return self.out(self.dropout(output)), state", "return self.out(output), state"))),
    ("no ValueError when tie_weights=True and embed_dim != hidden_size (the tie is skipped)",
     _variant(_MODEL, ('        if tie_weights and embed_dim != hidden_size:\n'
                       '            raise ValueError("tie_weights needs embed_dim == hidden_size")\n', ""),
              ("        if tie_weights:\n", "        if tie_weights and embed_dim == hidden_size:\n"))),
]

# ---- task 4: lm_loss and train_step (answer cell "loss") -------------------------------------------------

_LOSS = '''
def lm_loss(logits, targets, pad_index=PAD_INDEX):
    if logits.dim() != 3 or targets.shape != logits.shape[:2]:
        raise ValueError("logits must be (B, T, V) and targets (B, T)")
    mask = targets != pad_index  # (B, T)
    n = int(mask.sum())
    if n == 0:
        raise ValueError("every target is <pad>")
    logp = F.log_softmax(logits, dim=-1)  # (B, T, V)
    nll = -logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)  # (B, T)
    return (nll * mask).sum() / n, n


def train_step(model, optimizer, inputs, targets, clip=1.0):
    model.train()
    optimizer.zero_grad()
    logits, _ = model(inputs)
    loss, _ = lm_loss(logits, targets)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    optimizer.step()
    return loss.item()
'''

LOSS = [
    ("F.cross_entropy with ignore_index, which the task forbids",
     _variant(_LOSS, ("    logp = F.log_softmax(logits, dim=-1)  # (B, T, V)\n"
                      "    nll = -logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)  # (B, T)\n"
                      "    return (nll * mask).sum() / n, n\n",
                      "    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=pad_index)\n"
                      "    return loss, n\n"))),
    ("optimizer.zero_grad() missing: gradients pile up from step to step",
     _variant(_LOSS, ("    optimizer.zero_grad()\n", ""))),
    ("the model is left in whatever mode it was (no model.train())", _variant(_LOSS, ("    model.train()\n", ""))),
]

# ---- task 5: perplexity (answer cell "perplexity") -------------------------------------------------------

_PERPLEXITY = '''
def perplexity(model, titles, batch_size=64):
    if not titles:
        raise ValueError("titles is empty")
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(titles), batch_size):
            inputs, targets = make_batch(titles[i:i + batch_size])
            logits, _ = model(inputs)
            loss, n = lm_loss(logits, targets)
            total += loss.item() * n
            count += n
    model.train(was_training)
    return math.exp(total / count)
'''

PERPLEXITY = [
    ("the mean of the batch means, not the mean over every target",
     _variant(_PERPLEXITY, ("            total += loss.item() * n\n            count += n\n",
                            "            total += loss.item()\n            count += 1\n"))),
    ("the model is left in eval mode (training mode not restored)",
     _variant(_PERPLEXITY, ("    model.train(was_training)\n", ""))),
]

# ---- task 7: sample_next (answer cell "sample") ----------------------------------------------------------

_SAMPLE = '''
def sample_next(logits, temperature=1.0, top_p=1.0, generator=None):
    if logits.dim() != 1:
        raise ValueError("logits must be (V,)")
    if not temperature > 0:
        raise ValueError("temperature must be > 0")
    if not 0 < top_p <= 1:
        raise ValueError("top_p must be in (0, 1]")
    probs = torch.softmax(logits.double() / temperature, dim=-1)  # (V,)
    sorted_p, order = torch.sort(probs, descending=True)
    before = torch.cumsum(sorted_p, dim=0) - sorted_p
    keep = before < top_p - 1e-12
    keep[0] = True
    kept = torch.where(keep, sorted_p, torch.zeros_like(sorted_p))
    choice = torch.multinomial(kept / kept.sum(), 1, generator=generator)
    return int(order[choice])
'''

SAMPLE = [
    ("top-p keeps only the words whose running sum stays below p (drops the word that crosses p)",
     _variant(_SAMPLE, ("    before = torch.cumsum(sorted_p, dim=0) - sorted_p\n    keep = before < top_p - 1e-12\n",
                        "    keep = torch.cumsum(sorted_p, dim=0) <= top_p\n"))),
    ("top-p chosen on the probabilities before the temperature",
     _variant(_SAMPLE, ("    sorted_p, order = torch.sort(probs, descending=True)\n",
                        "    _, order = torch.sort(logits.double(), descending=True)\n"
                        "    raw = torch.softmax(logits.double(), dim=-1)[order]\n"
                        "    sorted_p = probs[order]\n"),
              ("    before = torch.cumsum(sorted_p, dim=0) - sorted_p\n", "    before = torch.cumsum(raw, dim=0) - raw\n"))),
]

# ---- task 8: generate_title (answer cell "generate") -----------------------------------------------------

_GENERATE = '''
def generate_title(model, start, stoi, itos, max_len=20, temperature=1.0, top_p=1.0, generator=None):
    if max_len < 1:
        raise ValueError("max_len must be >= 1")
    words = tokenize(start)
    if not words:
        raise ValueError("start is empty")
    unknown = [w for w in words if w not in stoi]
    if unknown:
        raise ValueError(f"start word(s) {unknown} are not in the vocabulary")
    was_training = model.training
    model.eval()
    with torch.no_grad():
        logits, state = model(torch.tensor([[BOS_INDEX] + [stoi[w] for w in words]]))  # (1, T, V)
        for _ in range(max_len):
            scores = logits[0, -1].clone()  # (V,)
            scores[[PAD_INDEX, BOS_INDEX, UNK_INDEX]] = float("-inf")
            nxt = sample_next(scores, temperature, top_p, generator)
            if nxt == EOS_INDEX:
                break
            words.append(itos[nxt])
            logits, state = model(torch.tensor([[nxt]]), state)  # (1, 1, V)
    model.train(was_training)
    return "".join(words)
'''

GENERATE = [
    ("max_len counts the start words too",
     _variant(_GENERATE, ("        for _ in range(max_len):\n", "        for _ in range(max_len - len(words)):\n"))),
    ("the model is left in eval mode (training mode not restored)", _variant(_GENERATE, ("    model.train(was_training)\n", ""))),
    ("the error for an unknown start word does not name it",
     _variant(_GENERATE, ('raise ValueError(f"start word(s) {unknown} are not in the vocabulary")',
                          'raise ValueError("a start word is not in the vocabulary")'))),
]

# Every submission retrains the model (task 6), about a minute each on two cores, and one nbgrader
# autograde call grades them all within the 900 s that tests/test_assignments.py's nbgrader() allows:
# so the first wrong answer of each task is graded here. The others stay above as documented mistakes
# (each also loses exactly its task's points when graded on its own).
WRONG_ANSWERS = {
    "tokenize": TOKENIZE[:1],
    "vocab": VOCAB[:1],
    "model": MODEL[:1],
    "loss": [LOSS[1]],  # optimizer.zero_grad() missing
    "perplexity": PERPLEXITY[:1],
    "sample": SAMPLE[:1],
    "generate": GENERATE[:1],
}
