import pytest
import torch

from seqlab.data.synthetic import BASELINE_MSE, adding_problem


def test_adding_problem_shapes_markers_and_targets():
    x, y = adding_problem(500, 20, torch.Generator().manual_seed(0))
    assert x.shape == (500, 20, 2) and y.shape == (500,)
    markers = x[..., 1]
    assert torch.equal(markers.sum(1), torch.full((500,), 2.0))
    assert torch.equal(markers[:, :10].sum(1), torch.ones(500))  # one marker in each half
    torch.testing.assert_close(y, (x[..., 0] * markers).sum(1))


def test_constant_prediction_baseline_is_one_sixth():
    _, y = adding_problem(200_000, 10, torch.Generator().manual_seed(1))
    assert ((y - 1.0) ** 2).mean().item() == pytest.approx(BASELINE_MSE, abs=0.003)


@pytest.mark.parametrize("n, length, message", [(0, 10, "n"), (5, 1, "length")])
def test_bad_sizes(n, length, message):
    with pytest.raises(ValueError, match=message):
        adding_problem(n, length)
