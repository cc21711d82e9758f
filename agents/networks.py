"""Network torsos shared by the agents: the Nature CNN for pixels, an MLP for vectors."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rlkit.errors import UserError
from rlkit.memory import require_memory


def is_pixels(space: gym.Space) -> bool:
    """uint8 observations of shape (channels, height, width) are images."""
    return isinstance(space, gym.spaces.Box) and space.dtype == np.uint8 and len(space.shape) == 3


def conv_side(pixels: int) -> int:
    """The side a frame's `pixels` shrink to through the Nature CNN's three convolutions."""
    after_first = (pixels - 8) // 4 + 1
    after_second = (after_first - 4) // 2 + 1
    return after_second - 2


class NatureCNN(nn.Module):
    """Mnih et al. (2015) convolutional torso; takes uint8 frames and scales them itself.

    `frame_shape` is (channels, height, width): 84x84 Atari frames flatten to 64x7x7 = 3136
    features, and any frame of at least 36x36 pixels fits. `hidden=0` leaves out the fully connected
    layer: the torso then ends at the flattened convolution features (a dueling network puts one
    such layer in each of its two streams).
    """

    HIDDEN = 512  # width of the fully connected layer
    MIN_SIDE = 36  # the three convolutions leave at least 1x1 of a frame this size

    def __init__(self, frame_shape: tuple[int, ...], hidden: int = HIDDEN):
        super().__init__()
        channels, height, width = frame_shape
        if min(height, width) < self.MIN_SIDE:
            raise UserError(f"env.id: frames of {height}x{width} pixels are too small for the Nature CNN "
                            f"(at least {self.MIN_SIDE}x{self.MIN_SIDE})")
        flat = 64 * conv_side(height) * conv_side(width)
        layers: list[nn.Module] = [
            nn.Conv2d(channels, 32, 8, stride=4), nn.ReLU(),
            nn.Conv2d(32, 64, 4, stride=2), nn.ReLU(),
            nn.Conv2d(64, 64, 3, stride=1), nn.ReLU(),
            nn.Flatten(),
        ]
        if hidden:
            layers += [nn.Linear(flat, hidden), nn.ReLU()]
        self.net = nn.Sequential(*layers)  # holds the layers (and so names the checkpoint's weights)
        # plain lists: modules assigned as attributes would be registered (and saved) a second time
        self._convs = [layer for layer in layers if isinstance(layer, nn.Conv2d)]
        self._linears = [layer for layer in layers if isinstance(layer, nn.Linear)]
        self.out_features = hidden or flat
        # channels_last runs a CPU training step of this net ~1.45x faster than NCHW
        self.to(memory_format=torch.channels_last)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """Computes what `self.net` does on the scaled frames, but calls the layers' functions with
        in-place ReLUs: at batch 1 (acting) the calls of nine modules cost 0.15 of ~1.1 ms per step."""
        # reorder the uint8 frames (4x fewer bytes than floats), then scale: uint8 / float gives float32
        # in one pass (the same bits as float() then div_), keeping the layout
        x = frames.contiguous(memory_format=torch.channels_last) / 255.0
        for conv in self._convs:
            x = F.conv2d(x, conv.weight, conv.bias, conv.stride).relu_()
        x = x.flatten(1)
        for linear in self._linears:
            x = F.linear(x, linear.weight, linear.bias).relu_()
        return x


class MLP(nn.Module):
    """Fully connected torso for vector observations."""

    def __init__(self, in_features: int, hidden: list[int], activation: type[nn.Module] = nn.ReLU):
        super().__init__()
        sizes = [in_features, *hidden]
        weights = sum((a + 1) * b for a, b in zip(sizes, sizes[1:]))  # float32: weights, grads, Adam's 2 moments
        require_memory(16 * weights, "the network (weights, gradients and Adam's moments)", "agent.hidden")
        layers, size = [], in_features
        for width in hidden:
            layers += [nn.Linear(size, width), activation()]
            size = width
        self.net = nn.Sequential(nn.Flatten(), *layers)
        self.out_features = size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Features of the observations, flattened and cast to float32."""
        return self.net(x.float())


def make_torso(space: gym.Space, hidden: list[int], activation: type[nn.Module] = nn.ReLU) -> nn.Module:
    """Nature CNN for images, MLP otherwise; `.out_features` gives the feature size."""
    if is_pixels(space):
        return NatureCNN(space.shape)
    return MLP(int(np.prod(space.shape)), hidden, activation)
