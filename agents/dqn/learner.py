"""DQN learner: Huber TD loss against a (Double-DQN) target network, Adam, gradient clipping."""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F

from rlkit.agents.dqn.config import AgentConfig
from rlkit.agents.dqn.network import QNetwork
from rlkit.agents.optim import clipped_adam_step, load_adam_state
from rlkit.replay import Batch


class DQNLearner:
    """Owns the online network's training state: target network, optimizer, update counters."""

    def __init__(self, q_net: QNetwork, cfg: AgentConfig):
        self.q_net = q_net
        self.target = copy.deepcopy(q_net).requires_grad_(False)
        self.cfg = cfg
        self.optimizer = torch.optim.Adam(q_net.parameters(), lr=cfg.lr, eps=cfg.adam_eps, fused=True)
        self.updates = 0

    def td_target(self, batch: Batch) -> torch.Tensor:
        """n-step return plus the discounted value of the bootstrap observation."""
        with torch.no_grad():
            next_q = self.target(batch.next_obs)
            if self.cfg.double:  # choose with the online net, evaluate with the target
                best = self.q_net(batch.next_obs).argmax(dim=1, keepdim=True)
            else:
                best = next_q.argmax(dim=1, keepdim=True)
            return batch.returns + batch.discounts * next_q.gather(1, best).squeeze(1)

    def update(self, batch: Batch) -> dict[str, torch.Tensor]:
        """One gradient step; returns detached metrics and per-sample TD errors."""
        target = self.td_target(batch)
        q = self.q_net(batch.obs).gather(1, batch.actions.unsqueeze(1)).squeeze(1)
        loss = (batch.weights * F.smooth_l1_loss(q, target, reduction="none")).mean()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        clipped_adam_step(self.optimizer, self.cfg.max_grad_norm)
        self.updates += 1
        return {"loss": loss.detach(), "q_mean": q.detach().mean(), "td_error": (target - q).detach()}

    def sync_target(self) -> None:
        """Hard copy (tau = 1) or Polyak average of the online weights into the target."""
        with torch.no_grad():
            if self.cfg.tau >= 1.0:
                self.target.load_state_dict(self.q_net.state_dict())
            else:
                for target, online in zip(self.target.parameters(), self.q_net.parameters()):
                    target.lerp_(online, self.cfg.tau)

    def state_dict(self) -> dict:
        """Everything a resume needs: both networks, Adam's moments, the update count."""
        return {"q_net": self.q_net.state_dict(), "target": self.target.state_dict(),
                "optimizer": self.optimizer.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict) -> None:
        """Restore `state_dict()`, keeping this config's lr and adam_eps (a resume may override them)."""
        self.q_net.load_state_dict(state["q_net"])
        self.target.load_state_dict(state["target"])
        load_adam_state(self.optimizer, state["optimizer"])  # lr, eps: this config's (a resume may override them)
        self.updates = int(state["updates"])
