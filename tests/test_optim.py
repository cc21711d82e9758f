"""The learners' clipped Adam step against PyTorch's own clip_grad_norm_ followed by a plain Adam step."""

import copy

import pytest
import torch

from rlkit.agents.optim import clipped_adam_step


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
