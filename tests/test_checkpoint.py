"""Checkpoint helpers: the RNG state a resume restores, and one-line errors for files that are not checkpoints."""

import pytest
import torch

from rlkit.checkpoint import atomic_torch_save, load_checkpoint, load_weights, rng_state, set_rng_state
from rlkit.errors import UserError


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


def test_a_missing_checkpoint_is_named_as_missing(tmp_path):
    """A file gone between the listing and the load (pruned by a run still training) says so, rather than
    'not a readable rlkit checkpoint (FileNotFoundError)'."""
    path = tmp_path / "checkpoints" / "step_000000000010.pt"
    with pytest.raises(UserError) as error:
        load_checkpoint(path)
    assert str(error.value) == f"{path}: no such checkpoint"


def test_a_flipped_bit_in_the_weights_is_refused_by_its_checksum(tmp_path):
    """torch.load does not check the CRC-32s its zip format stores: a weight with one bit flipped loaded silently."""
    path = tmp_path / "step_1.pt"
    weights = torch.arange(100_000, dtype=torch.float32)
    atomic_torch_save({"step": 1, "w": weights}, path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 4  # inside the tensor's 400 kB
    path.write_bytes(data)
    assert (torch.load(path, weights_only=True)["w"] != weights).sum() == 1  # what loading alone gives
    with pytest.raises(UserError) as error:
        load_checkpoint(path)
    assert str(error.value) == f"{path}: damaged: its bytes no longer match the checksums saved with them (in archive/data/0)"


def test_weights_that_do_not_fit_name_the_keys_at_fault_on_one_line():
    """load_state_dict's first line only says that loading failed; its second names the key, so both are kept."""
    with pytest.raises(UserError) as error:
        load_weights(torch.nn.Linear(2, 2), {"weight": torch.zeros(2, 2)}, "run/step_1.pt")
    assert str(error.value) == ('run/step_1.pt: the saved weights do not fit the Linear its config describes '
                                '(Error(s) in loading state_dict for Linear: Missing key(s) in state_dict: "bias".)')


def test_an_atomic_write_that_fails_leaves_no_file_and_no_open_descriptor(tmp_path, monkeypatch):
    import os

    from rlkit import atomic

    def fails(handle):
        handle.write(b"x" * 100_000)
        raise RuntimeError("write failed")

    open_fds = len(os.listdir("/proc/self/fd"))
    with pytest.raises(RuntimeError):
        atomic.atomic_write(tmp_path / "a", fails)
    monkeypatch.setattr(atomic.os, "fchmod", lambda fd, mode: (_ for _ in ()).throw(PermissionError(1, "EPERM")))
    with pytest.raises(PermissionError):  # a file system that refuses chmod
        atomic.atomic_write(tmp_path / "b", lambda handle: handle.write(b"x"))
    assert list(tmp_path.iterdir()) == [] and len(os.listdir("/proc/self/fd")) == open_fds


def test_a_checkpoint_config_section_that_is_not_a_mapping_reads_as_absent():
    """`--resume` compares the fixed keys against the checkpoint's own config; a damaged one whose
    `train` or `agent` is a list or a string was an AttributeError traceback, and now counts as absent."""
    from rlkit.run import _dotted

    assert _dotted({"train": [1, 2]}, "train.total_steps", default=7) == 7
    assert _dotted({"agent": "x"}, "agent.hidden", default=[64]) == [64]
    assert _dotted({"env": None}, "env.id", default="CartPole-v1") == "CartPole-v1"
