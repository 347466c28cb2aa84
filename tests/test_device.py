import pytest
import torch

from seqlab.device import by_profile, get_device, profile, seed_everything


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ("SEQLAB_PROFILE", "NBGRADER_EXECUTION", "SEQLAB_DEVICE"):
        monkeypatch.delenv(name, raising=False)


def test_profile_follows_environment(monkeypatch):
    monkeypatch.setenv("SEQLAB_PROFILE", "full")
    assert profile() == "full"
    monkeypatch.setenv("SEQLAB_PROFILE", "FAST")
    assert profile() == "fast"


def test_profile_is_fast_under_nbgrader_even_with_a_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert profile() == "full"
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert profile() == "fast"


def test_profile_is_fast_without_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert profile() == "fast"
    assert by_profile(fast=1, full=2) == 1


def test_bad_profile_names_the_choices(monkeypatch):
    monkeypatch.setenv("SEQLAB_PROFILE", "turbo")
    with pytest.raises(ValueError, match="fast"):
        profile()


def test_get_device(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert get_device().type in ("cpu", "mps")
    assert get_device("cpu") == torch.device("cpu")
    monkeypatch.setenv("SEQLAB_DEVICE", "cpu")
    assert get_device() == torch.device("cpu")


def test_seed_everything_repeats_and_rejects_bad_seed():
    seed_everything(3)
    a = torch.rand(3)
    seed_everything(3)
    torch.testing.assert_close(torch.rand(3), a)
    with pytest.raises(ValueError, match="seed"):
        seed_everything(-1)
