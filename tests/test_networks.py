"""The Nature CNN's functional forward pass against its own layer stack, what copies of it share; the MLP torso."""

import copy

import pytest
import torch

from rlkit.agents.networks import MLP, NatureCNN
from rlkit.errors import UserError


@pytest.mark.parametrize("hidden", [512, 0])
def test_forward_and_gradients_equal_the_layer_stack(hidden):
    torch.manual_seed(0)
    net = NatureCNN((4, 84, 84), hidden=hidden)
    frames = torch.randint(0, 256, (3, 4, 84, 84), dtype=torch.uint8)
    ours = net(frames)
    ours.square().sum().backward()
    ours_grads = [p.grad.clone() for p in net.parameters()]
    net.zero_grad()
    reference = net.net(frames.float() / 255.0)  # nn.Sequential with its own (not in-place) ReLUs
    reference.square().sum().backward()
    torch.testing.assert_close(ours, reference)
    for mine, theirs in zip(ours_grads, (p.grad for p in net.parameters())):
        torch.testing.assert_close(mine, theirs)
    layers = ["net.0", "net.2", "net.4"] + (["net.7"] if hidden else [])  # the names checkpoints hold
    assert list(net.state_dict()) == [f"{name}.{kind}" for name in layers for kind in ("weight", "bias")]


def test_a_deep_copy_computes_with_its_own_weights():
    """DQN's target network is a deep copy: it must not follow the online network's later updates."""
    torch.manual_seed(0)
    online = NatureCNN((4, 84, 84))
    target = copy.deepcopy(online)
    frames = torch.randint(0, 256, (2, 4, 84, 84), dtype=torch.uint8)
    before = target(frames)
    with torch.no_grad():
        for p in online.parameters():
            p.add_(0.1)
    torch.testing.assert_close(target(frames), before)
    assert not torch.allclose(online(frames), before)


@pytest.mark.parametrize("frame_shape, flat", [((4, 84, 84), 64 * 7 * 7), ((3, 72, 128), 64 * 5 * 12),
                                               ((1, 36, 36), 64)])
def test_any_frame_of_at_least_36_pixels_a_side_fits(frame_shape, flat):
    """Atari's 84x84 gives the paper's 3136 features; other sizes (Doom's 128x72, say) their own."""
    assert NatureCNN(frame_shape, hidden=0).out_features == flat
    net = NatureCNN(frame_shape)
    assert net(torch.zeros(2, *frame_shape, dtype=torch.uint8)).shape == (2, 512)
    assert net.net[7].in_features == flat


def test_a_frame_too_small_for_the_convolutions_is_refused_in_one_line():
    with pytest.raises(UserError, match=r"frames of 35x84 pixels are too small for the Nature CNN \(at least 36x36\)"):
        NatureCNN((4, 35, 84))


def mlp_3_from_2(activation):
    """MLP(2 -> 3) whose layer computes [x0, x1, x0 + x1]."""
    net = MLP(2, [3], activation)
    with torch.no_grad():
        net.net[1].weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
        net.net[1].bias.zero_()
    return net


def test_the_mlp_uses_the_activation_it_is_given():
    """PPO's MLPs take tanh (its default, agent.activation); they must not fall back to ReLU."""
    x = torch.tensor([[1.0, -2.0]])
    torch.testing.assert_close(mlp_3_from_2(torch.nn.Tanh)(x), torch.tanh(torch.tensor([[1.0, -2.0, -1.0]])))
    torch.testing.assert_close(mlp_3_from_2(torch.nn.ReLU)(x), torch.tensor([[1.0, 0.0, 0.0]]))


def test_the_mlp_takes_integer_and_float64_observations_as_float32():
    """Discrete-valued or float64 vectors reach the float32 weights: the MLP converts them itself."""
    net = mlp_3_from_2(torch.nn.ReLU)
    for dtype in (torch.int64, torch.uint8, torch.float64):
        x = torch.tensor([[2, 3]], dtype=dtype)
        out = net(x)
        assert out.dtype == torch.float32
        torch.testing.assert_close(out, torch.tensor([[2.0, 3.0, 5.0]]))
