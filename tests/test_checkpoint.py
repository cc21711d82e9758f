"""Checkpoint helpers: the RNG state a resume restores."""

import torch

from rlkit.checkpoint import atomic_torch_save, load_checkpoint, rng_state, set_rng_state


def test_a_saved_rng_state_restores_the_same_draws(tmp_path):
    """rng_state() saved in a checkpoint and given back to set_rng_state() replays torch's draws,
    so a resumed run samples as the uninterrupted one would."""
    torch.manual_seed(123)
    torch.rand(5)  # somewhere into the stream, not at a seed
    atomic_torch_save({"rng": rng_state()}, tmp_path / "state.pt")
    expected = torch.rand(3), torch.randn(2), torch.randint(0, 1000, (4,))
    torch.manual_seed(7)  # the stream moves on elsewhere (a fresh process seeds again)
    set_rng_state(load_checkpoint(tmp_path / "state.pt")["rng"])
    for again, before in zip((torch.rand(3), torch.randn(2), torch.randint(0, 1000, (4,))), expected):
        torch.testing.assert_close(again, before, rtol=0, atol=0)
