"""Plausible wrong answers to a04-training (training tricks); each must lose exactly its task's points.

WRONG_ANSWERS maps the grade_id of an answer cell to (description, source) pairs: the source is the
whole answer cell as a student might hand it in. tests/test_wrong_answers.py grades the solution with
that one cell replaced and checks that only the test cell of that task drops to 0.
"""

ASSIGNMENT = "a04-training"

# ---- task 1: xavier_uniform and he_normal (answer cell "init") ----------------------------------

_XAVIER = '''
def xavier_uniform(fan_in, fan_out, gain=1.0, generator=None):
    if fan_in < 1 or fan_out < 1:
        raise ValueError("fan_in and fan_out must be >= 1")
    a = gain * math.sqrt({variance_times_3} / (fan_in + fan_out))
    return torch.empty({shape}).uniform_(-a, a, generator={generator})
'''

_HE = '''
def he_normal(fan_in, fan_out, generator=None):
    if fan_in < 1 or fan_out < 1:
        raise ValueError("fan_in and fan_out must be >= 1")
    std = {std}
    return torch.empty({shape}).normal_(0.0, std, generator={generator})
'''


def _init(variance_times_3="6.0", std="math.sqrt(2.0 / fan_in)", shape="fan_out, fan_in", generator="generator"):
    return (_XAVIER.format(variance_times_3=variance_times_3, shape=shape, generator=generator)
            + _HE.format(std=std, shape=shape, generator=generator))


INIT = [
    ("Xavier with the slide's variance 1 / (n_in + n_out)", _init(variance_times_3="3.0")),
    ("both initialisers return the transposed shape (fan_in, fan_out)", _init(shape="fan_in, fan_out")),
    ("He with LeCun's std 1 / sqrt(fan_in)", _init(std="1.0 / math.sqrt(fan_in)")),
    ("He with std sqrt(2 / (fan_in + fan_out))", _init(std="math.sqrt(2.0 / (fan_in + fan_out))")),
    ("the generator is ignored (always torch's global random numbers)", _init(generator="None")),
]

# ---- task 2: inverted_dropout (answer cell "dropout") ---------------------------------------------

_DROPOUT = '''
def inverted_dropout(x, p, training=True, generator=None):
    if not 0.0 <= p <= 1.0:
        raise ValueError("p must be in [0, 1]")
    if {eval_check}p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    keep = torch.rand(x.shape, generator=generator) {keep}
    return {output}
'''


def _dropout(eval_check="not training or ", keep=">= p", output="x * keep / (1.0 - p)"):
    return _DROPOUT.format(eval_check=eval_check, keep=keep, output=output)


DROPOUT = [
    ("survivors not scaled by 1 / (1 - p)", _dropout(output="x * keep")),
    ("survivors scaled by (1 - p) instead of 1 / (1 - p)", _dropout(output="x * keep * (1.0 - p)")),
    ("drops and scales also in evaluation (training ignored)", _dropout(eval_check="")),
    ("keeps each element with probability p instead of 1 - p", _dropout(keep="< p")),
    ("modifies x in place", _dropout(output="x.mul_(keep).div_(1.0 - p)")),
]

# ---- task 3: selu (answer cell "selu") ---------------------------------------------------------------

_SELU = '''
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_LAMBDA = 1.0507009873554804934193349852946


def selu(x):
    negative = torch.expm1(torch.clamp(x, max=0.0))
    return {body}
'''


def _selu(body):
    return _SELU.format(body=body)


SELU = [
    ("ELU with alpha: lambda = 1", _selu("torch.where(x > 0, x, SELU_ALPHA * negative)")),
    ("alpha and lambda swapped", _selu("SELU_ALPHA * torch.where(x > 0, x, SELU_LAMBDA * negative)")),
    ("lambda * alpha * exp(x) without the - 1",
     _selu("SELU_LAMBDA * torch.where(x > 0, x, SELU_ALPHA * torch.exp(torch.clamp(x, max=0.0)))")),
    ("lambda only on the positive part", _selu("torch.where(x > 0, SELU_LAMBDA * x, SELU_ALPHA * negative)")),
    ("torch.where on exp(x) - 1 without clamping (nan gradient for large x)",
     _selu("SELU_LAMBDA * torch.where(x > 0, x, SELU_ALPHA * (torch.exp(x) - 1))")),
]

# ---- task 4: focal_loss (answer cell "focal-loss") ---------------------------------------------------

_FOCAL = '''
def focal_loss(logits, target, gamma=2.0, weight=None, ignore_index=-100):
    if gamma < 0:
        raise ValueError("gamma must be >= 0")
    if logits.ndim != 2:
        raise ValueError("logits must be (N, C)")
    N, C = logits.shape
    if target.shape != (N,):
        raise ValueError("target must be (N,)")
    keep = target != ignore_index
    safe_target = torch.where(keep, target, torch.zeros_like(target))
{log_p}
    p = log_p.exp()
    w = torch.ones_like(log_p) if weight is None else weight[safe_target]
    w = w * keep
    return (-w * {factor} * log_p).sum() / {denominator}
'''

_LOG_P = "    log_p = F.log_softmax(logits, dim=1).gather(1, safe_target[:, None]).squeeze(1)"


def _focal(log_p=_LOG_P, factor="(1.0 - p) ** gamma", denominator="w.sum()", ignore=True):
    source = _FOCAL.format(log_p=log_p, factor=factor, denominator=denominator)
    if not ignore:  # every row counts, and the target itself is the index
        source = source.replace("keep = target != ignore_index", "keep = torch.ones_like(target, dtype=torch.bool)")
        source = source.replace("torch.where(keep, target, torch.zeros_like(target))", "target")
    return source


FOCAL = [
    ("p ** gamma instead of (1 - p) ** gamma", _focal(factor="p ** gamma")),
    ("weighted sum divided by the number of targets, not by the sum of weights", _focal(denominator="keep.sum()")),
    ("ignore_index not ignored", _focal(ignore=False)),
    ("probability of the argmax class instead of the target class",
     _focal(log_p="    log_p = F.log_softmax(logits, dim=1).max(dim=1).values")),
    ("log of softmax instead of log_softmax (overflow for large logits)",
     _focal(log_p="    log_p = torch.log(torch.exp(logits) / torch.exp(logits).sum(dim=1, keepdim=True))"
                  ".gather(1, safe_target[:, None]).squeeze(1)")),
]

# ---- task 5: adam_step (answer cell "adam-step") -----------------------------------------------------

_ADAM = '''
def adam_step(param, grad, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, decoupled=False):
    beta1, beta2 = betas
    if lr < 0 or eps < 0 or weight_decay < 0 or not (0.0 <= beta1 < 1.0 and 0.0 <= beta2 < 1.0):
        raise ValueError("bad hyperparameter")
    if not state:
        state.update(step=0, m=torch.zeros_like(param), v=torch.zeros_like(param))
    t = state["step"] + 1
    if decoupled:
        {decay}
    elif weight_decay != 0:
        grad = grad + weight_decay * param
    m = beta1 * state["m"] + (1.0 - beta1) * grad
    v = beta2 * state["v"] + (1.0 - beta2) * grad * grad
    m_hat = {m_hat}
    v_hat = {v_hat}
    state.update(step=t, m=m, v=v)
    return param - lr * m_hat / ({denominator})
'''


def _adam(decay="param = param * (1.0 - lr * weight_decay)", m_hat="m / (1.0 - beta1 ** t)",
          v_hat="v / (1.0 - beta2 ** t)", denominator="v_hat.sqrt() + eps"):
    return _ADAM.format(decay=decay, m_hat=m_hat, v_hat=v_hat, denominator=denominator)


ADAM = [
    ("no bias correction", _adam(m_hat="m", v_hat="v")),
    ("decoupled=True implemented as L2 (the same as Adam)", _adam(decay="grad = grad + weight_decay * param")),
    ("decoupled decay without the learning rate: param * (1 - weight_decay)",
     _adam(decay="param = param * (1.0 - weight_decay)")),
    ("eps inside the square root: sqrt(v_hat + eps)", _adam(denominator="(v_hat + eps).sqrt()")),
    ("bias correction with beta instead of beta ** t", _adam(m_hat="m / (1.0 - beta1)", v_hat="v / (1.0 - beta2)")),
]

WRONG_ANSWERS = {
    "init": INIT,
    "dropout": DROPOUT,
    "selu": SELU,
    "focal-loss": FOCAL,
    "adam-step": ADAM,
}
