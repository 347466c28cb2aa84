"""Plausible wrong answers to a02-rnn-lstm (RNN forward, BPTT, one LSTM step, gradient clipping, all in
NumPy); each must lose exactly its task's points.

WRONG_ANSWERS maps the grade_id of an answer cell to (description, source) pairs: the source is the
whole answer cell as a student might hand it in. tests/test_wrong_answers.py grades the solution with
that one cell replaced and checks that only the test cell of that task drops to 0.
"""

ASSIGNMENT = "a02-rnn-lstm"


from _edits import variant as _variant  # noqa: E402  (tests/wrong_answers is on sys.path when loaded)


# ---- task 1: rnn_forward (answer cell "rnn-forward") -------------------------------------------------
# The lessons' convention: h_t = tanh(W_ih x_t + W_hh h_{t-1} + b) with column vectors, W_ih (H, I), W_hh (H, H);
# batch in rows, so the code is x_t @ W_ih.T + h @ W_hh.T + b.

_FORWARD = '''
def rnn_forward(x, h0, W_ih, W_hh, b):
    if x.ndim != 3 or h0.ndim != 2:
        raise ValueError("x must be (B, T, I) and h0 (B, H)")
    B, T, I = x.shape
    H = h0.shape[1]
    for name, array, shape in (("h0", h0, (B, H)), ("W_ih", W_ih, (H, I)), ("W_hh", W_hh, (H, H)), ("b", b, (H,))):
        if array.shape != shape:
            raise ValueError(f"{name} must have shape {shape}")
    hs = np.empty((B, T, H), dtype=np.result_type(x, h0, W_ih, W_hh, b))
    h = h0  # (B, H)
    for t in range(T):
        h = np.tanh(x[:, t] @ W_ih.T + h @ W_hh.T + b)  # (B, H)
        hs[:, t] = h
    return hs
'''

FORWARD = [
    ("torch imported inside the function (the task says NumPy only)",
     _variant(_FORWARD, ("    hs = np.empty((B, T, H), dtype=np.result_type(x, h0, W_ih, W_hh, b))\n"
                         "    h = h0  # (B, H)\n"
                         "    for t in range(T):\n"
                         "        h = np.tanh(x[:, t] @ W_ih.T + h @ W_hh.T + b)  # (B, H)\n"
                         "        hs[:, t] = h\n"
                         "    return hs\n",
                         "    import torch\n"
                         "    xt, h, Wx, Wh, bt = (torch.from_numpy(a) for a in (x, h0, W_ih, W_hh, b))\n"
                         "    out = []\n"
                         "    for t in range(T):\n"
                         "        h = torch.tanh(xt[:, t] @ Wx.T + h @ Wh.T + bt)\n"
                         "        out.append(h)\n"
                         "    return torch.stack(out, dim=1).numpy()\n"))),
    ("torch.tanh under another name, imported at the top of the cell (NumPy only)",
     "from torch import tanh as _tanh, from_numpy as _from_numpy\n" + _variant(
         _FORWARD, ("h = np.tanh(x[:, t] @ W_ih.T + h @ W_hh.T + b)",
                    "h = _tanh(_from_numpy(x[:, t] @ W_ih.T + h @ W_hh.T + b)).numpy()"))),
    ("the row-vector habit h @ W_hh: computes W_hh^T h_{t-1}, the recurrent weight transposed",
     _variant(_FORWARD, ("h @ W_hh.T + b", "h @ W_hh + b"))),
    ("b's shape not checked, so a (1, H) bias broadcasts silently",
     _variant(_FORWARD, (', ("b", b, (H,))):', '):'))),
]

# ---- task 2: rnn_backward (answer cell "rnn-backward") -----------------------------------------------

_BACKWARD = '''
def rnn_backward(x, h0, W_ih, W_hh, b, hs, dhs):
    if x.ndim != 3 or h0.ndim != 2:
        raise ValueError("x must be (B, T, I) and h0 (B, H)")
    B, T, I = x.shape
    H = h0.shape[1]
    for name, array, shape in (("h0", h0, (B, H)), ("W_ih", W_ih, (H, I)), ("W_hh", W_hh, (H, H)), ("b", b, (H,)),
                               ("hs", hs, (B, T, H)), ("dhs", dhs, (B, T, H))):
        if array.shape != shape:
            raise ValueError(f"{name} must have shape {shape}")
    dW_ih, dW_hh, db = np.zeros_like(W_ih), np.zeros_like(W_hh), np.zeros_like(b)
    dx = np.zeros_like(x)  # (B, T, I)
    delta_next = np.zeros_like(h0)  # (B, H)
    for t in reversed(range(T)):
        h_prev = hs[:, t - 1] if t > 0 else h0  # (B, H)
        delta = dhs[:, t] + delta_next  # (B, H)
        da = delta * (1.0 - hs[:, t] ** 2)  # (B, H)
        dW_ih += da.T @ x[:, t]  # (H, I)
        dW_hh += da.T @ h_prev  # (H, H)
        db += da.sum(axis=0)  # (H,)
        dx[:, t] = da @ W_ih  # (B, I)
        delta_next = da @ W_hh  # (B, H)
    return {"dW_ih": dW_ih, "dW_hh": dW_hh, "db": db, "dh0": delta_next, "dx": dx}
'''

BACKWARD = [
    ("delta = dhs[:, t]; delta += ... writes into dhs (a view)",
     _variant(_BACKWARD, ("        delta = dhs[:, t] + delta_next  # (B, H)\n",
                          "        delta = dhs[:, t]\n        delta += delta_next  # (B, H)\n"))),
    ("tanh' taken at the previous state: 1 - h_{t-1}^2", _variant(_BACKWARD, ("(1.0 - hs[:, t] ** 2)", "(1.0 - h_prev ** 2)"))),
    ("the gradient from step t + 1 is not carried back (delta = dhs[:, t])",
     _variant(_BACKWARD, ("delta = dhs[:, t] + delta_next", "delta = dhs[:, t] + 0.0"))),
    ("dW_hh by the row-vector formula h_prev.T @ da: the transpose of dL/dW_hh (same shape, so no error)",
     _variant(_BACKWARD, ("dW_hh += da.T @ h_prev", "dW_hh += h_prev.T @ da"))),
    ("the gradient carried back with W_hh.T (da @ W_hh.T is W_hh da, not W_hh^T da)",
     _variant(_BACKWARD, ("delta_next = da @ W_hh  #", "delta_next = da @ W_hh.T  #"))),
    ("torch autograd inside the function (the task says NumPy only)",
     _variant(_BACKWARD, ("    dW_ih, dW_hh, db = np.zeros_like(W_ih), np.zeros_like(W_hh), np.zeros_like(b)\n",
                          "    import torch\n"
                          "    ts = [torch.tensor(a, requires_grad=True) for a in (x, h0, W_ih, W_hh, b)]\n"
                          "    h, out = ts[1], []\n"
                          "    for t in range(T):\n"
                          "        h = torch.tanh(ts[0][:, t] @ ts[2].T + h @ ts[3].T + ts[4])\n"
                          "        out.append(h)\n"
                          "    (torch.stack(out, 1) * torch.tensor(dhs)).sum().backward()\n"
                          "    gx, gh0, gWx, gWh, gb = (t.grad.numpy() for t in ts)\n"
                          "    return {'dW_ih': gWx, 'dW_hh': gWh, 'db': gb, 'dh0': gh0, 'dx': gx}\n"
                          "    dW_ih, dW_hh, db = np.zeros_like(W_ih), np.zeros_like(W_hh), np.zeros_like(b)\n"))),
]

# ---- task 3: lstm_step (answer cell "lstm-step") ---------------------------------------------------------

_LSTM = '''
def lstm_step(x, h_prev, c_prev, weight_ih, weight_hh, bias_ih, bias_hh):
    if x.ndim != 2 or h_prev.ndim != 2:
        raise ValueError("x must be (B, I) and h_prev (B, H)")
    B, I = x.shape
    H = h_prev.shape[1]
    for name, array, shape in (("h_prev", h_prev, (B, H)), ("c_prev", c_prev, (B, H)),
                               ("weight_ih", weight_ih, (4 * H, I)), ("weight_hh", weight_hh, (4 * H, H)),
                               ("bias_ih", bias_ih, (4 * H,)), ("bias_hh", bias_hh, (4 * H,))):
        if array.shape != shape:
            raise ValueError(f"{name} must have shape {shape}")

    def sigmoid(z):
        return 0.5 * (1.0 + np.tanh(0.5 * z))

    gates = x @ weight_ih.T + bias_ih + h_prev @ weight_hh.T + bias_hh  # (B, 4H)
    i, f, g, o = np.split(gates, 4, axis=1)  # (B, H) each
    i, f, c_tilde, o = sigmoid(i), sigmoid(f), np.tanh(g), sigmoid(o)
    c = f * c_prev + i * c_tilde  # (B, H)
    h = o * np.tanh(c)  # (B, H)
    return h, c
'''

LSTM = [
    ("gate blocks read in Keras' order i, f, o, g instead of torch's i, f, g, o",
     _variant(_LSTM, ("i, f, g, o = np.split(gates, 4, axis=1)", "i, f, o, g = np.split(gates, 4, axis=1)"))),
    ("bias_hh left out", _variant(_LSTM, (" + h_prev @ weight_hh.T + bias_hh", " + h_prev @ weight_hh.T"))),
    ("h = o * c, without the tanh", _variant(_LSTM, ("h = o * np.tanh(c)", "h = o * c"))),
    ("torch.nn.LSTMCell called inside the function (the task says NumPy only)",
     _variant(_LSTM, ("    def sigmoid(z):\n",
                      "    from torch import nn as tnn, tensor\n"
                      "    cell = tnn.LSTMCell(I, H).double()\n"
                      "    for p, a in zip(cell.parameters(), (weight_ih, weight_hh, bias_ih, bias_hh)):\n"
                      "        p.data = tensor(a)\n"
                      "    h, c = cell(tensor(x), (tensor(h_prev), tensor(c_prev)))\n"
                      "    return h.detach().numpy(), c.detach().numpy()\n\n"
                      "    def sigmoid(z):\n"))),
]

# ---- task 4: clip_grad_norm (answer cell "clip-grad-norm") -----------------------------------------------

_CLIP = '''
def clip_grad_norm(grads, max_norm):
    if max_norm <= 0:
        raise ValueError("max_norm must be > 0")
    total_norm = math.sqrt(sum(float(np.sum(g * g)) for g in grads))
    coef = max_norm / (total_norm + 1e-6)
    scale = min(1.0, coef)
    return [g * scale for g in grads], total_norm
'''

CLIP = [
    ("the lesson's c g / ||g|| without the 1e-6 of clip_grad_norm_",
     _variant(_CLIP, ("coef = max_norm / (total_norm + 1e-6)", "coef = max_norm / total_norm if total_norm > 0 else 1.0"))),
    ("each array clipped by its own norm, not by the total norm",
     _variant(_CLIP, ("    return [g * scale for g in grads], total_norm",
                      "    return [g * min(1.0, max_norm / (float(np.linalg.norm(g)) + 1e-6)) for g in grads], total_norm"))),
    ("the input arrays returned as they are when no clipping is needed",
     _variant(_CLIP, ("    return [g * scale for g in grads], total_norm",
                      "    return ([g * scale for g in grads] if scale < 1.0 else list(grads)), total_norm"))),
    ("torch.nn.utils.clip_grad_norm_ called inside the function (the task says NumPy only)",
     _variant(_CLIP, ("    total_norm = math.sqrt(", "    import torch\n"
                      "    params = [torch.nn.Parameter(torch.zeros(g.shape, dtype=torch.float64)) for g in grads]\n"
                      "    for p, g in zip(params, grads):\n"
                      "        p.grad = torch.tensor(g)\n"
                      "    if grads:\n"
                      "        total = float(torch.nn.utils.clip_grad_norm_(params, max_norm))\n"
                      "        return [p.grad.numpy() for p in params], total\n"
                      "    total_norm = math.sqrt("))),
]

WRONG_ANSWERS = {
    "rnn-forward": FORWARD,
    "rnn-backward": BACKWARD,
    "lstm-step": LSTM,
    "clip-grad-norm": CLIP,
}
