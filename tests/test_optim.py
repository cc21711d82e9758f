"""The learners' clipped Adam step against PyTorch's own clip_grad_norm_ followed by a plain Adam step."""

import copy

import pytest
import torch

from rlkit.agents.optim import clipped_adam_step, load_adam_state


@pytest.mark.parametrize("max_norm", [1e-3, 0.5, 1e6, 0.0])  # clipped hard, clipped, never reached, off
def test_clipped_adam_step_matches_clip_grad_norm_then_adam(max_norm):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    reference = copy.deepcopy(net)
    # eps near the clipped gradients' size, so a step on unclipped ones would land elsewhere
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2, eps=1e-4, fused=True)
    reference_optimizer = torch.optim.Adam(reference.parameters(), lr=1e-2, eps=1e-4)
    for _ in range(3):
        x = torch.randn(16, 5)
        for model in (net, reference):
            model.zero_grad(set_to_none=True)
            model(x).pow(2).sum().backward()
        if max_norm > 0:
            torch.nn.utils.clip_grad_norm_(reference.parameters(), max_norm)
        reference_optimizer.step()
        clipped_adam_step(optimizer, max_norm)
        assert not hasattr(optimizer, "grad_scale")  # the next step is not scaled by this one's factor
    for ours, theirs in zip(net.parameters(), reference.parameters()):
        torch.testing.assert_close(ours, theirs)


def test_a_saved_adam_state_is_checked_and_keeps_this_optimizers_settings():
    """Moments of another shape crashed the fused kernel (SIGSEGV) at the first step after a resume;
    now they are a ValueError (a UserError for `--resume`). Saved settings (fused, maximize, betas)
    do not replace the ones the config made."""
    net = torch.nn.Linear(3, 2)
    net(torch.randn(4, 3)).sum().backward()
    saved = torch.optim.Adam(net.parameters(), lr=1e-3, fused=True)
    saved.step()
    state = saved.state_dict()
    state["param_groups"][0].update(fused=False, maximize=True, betas=("a", "b"))
    fresh = torch.optim.Adam(net.parameters(), lr=5e-4, eps=1e-5, fused=True)
    load_adam_state(fresh, copy.deepcopy(state))
    group = fresh.param_groups[0]
    settings = (group["fused"], group["maximize"], group["betas"], group["lr"], group["eps"])
    assert settings == (True, False, (0.9, 0.999), 5e-4, 1e-5)
    torch.testing.assert_close(fresh.state[net.weight]["exp_avg"], state["state"][0]["exp_avg"])
    clipped_adam_step(fresh, 1.0)
    for name, value in [("exp_avg", torch.zeros(7)), ("exp_avg_sq", torch.full((2, 3), float("nan"))),
                        ("step", torch.zeros(3))]:
        damaged = copy.deepcopy(state)
        damaged["state"][0][name] = value
        with pytest.raises(ValueError, match=f"optimizer state {name} of parameter 0"):
            load_adam_state(torch.optim.Adam(net.parameters(), fused=True), damaged)
