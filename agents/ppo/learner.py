"""PPO learner: clipped surrogate, (clipped) value loss and entropy bonus over shuffled minibatches."""

from __future__ import annotations

import torch

from rlkit.agents.optim import clipped_adam_step, load_adam_state
from rlkit.agents.ppo.config import AgentConfig
from rlkit.agents.ppo.network import ActorCritic
from rlkit.storage import Batch, RolloutStorage


def policy_loss(logratio: torch.Tensor, advantages: torch.Tensor, clip: float) -> torch.Tensor:
    """Clipped surrogate objective (Schulman et al. 2017, eq. 7), negated to be minimized."""
    ratio = logratio.exp()
    unclipped = ratio * advantages
    clipped = torch.clamp(ratio, 1.0 - clip, 1.0 + clip) * advantages
    return -torch.min(unclipped, clipped).mean()


def value_loss(values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor,
               clip: float | None) -> torch.Tensor:
    """Half squared error to the returns; with `clip`, the pessimum of clipped and unclipped updates."""
    unclipped = (values - returns).square()
    if clip is None:
        return 0.5 * unclipped.mean()
    clipped_values = old_values + torch.clamp(values - old_values, -clip, clip)
    return 0.5 * torch.max(unclipped, (clipped_values - returns).square()).mean()


def explained_variance(predicted: torch.Tensor, target: torch.Tensor) -> float:
    """1 - Var[target - predicted] / Var[target]: 1 is a perfect critic, <= 0 no better than a constant."""
    variance = target.var(correction=0)  # population variance, as numpy's (CleanRL); defined for one sample
    return float("nan") if variance == 0 else float(1 - (target - predicted).var(correction=0) / variance)


class PPOLearner:
    """Owns the training state: network, optimizer, update counter."""

    def __init__(self, net: ActorCritic, cfg: AgentConfig):
        self.net = net
        self.cfg = cfg
        self.optimizer = torch.optim.Adam(net.parameters(), lr=cfg.lr, eps=cfg.adam_eps, fused=True)
        self.updates = 0

    def loss(self, batch: Batch, clip: float) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Total loss for one minibatch, and its detached parts."""
        logprobs, entropy, values = self.net.evaluate(batch.obs, batch.actions)
        logratio = logprobs - batch.logprobs
        advantages = batch.advantages
        if self.cfg.norm_adv and advantages.numel() > 1:
            advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        pg_loss = policy_loss(logratio, advantages, clip)
        v_loss = value_loss(values, batch.values, batch.returns, clip if self.cfg.clip_vloss else None)
        entropy = entropy.mean()
        total = pg_loss - self.cfg.ent_coef * entropy + self.cfg.vf_coef * v_loss
        with torch.no_grad():
            ratio = logratio.exp()
            parts = {"policy_loss": pg_loss, "value_loss": v_loss, "entropy": entropy,
                     "approx_kl": ((ratio - 1) - logratio).mean(),  # Schulman's k3 estimator
                     "clipfrac": ((ratio - 1.0).abs() > clip).float().mean()}
        return total, {k: v.detach() for k, v in parts.items()}

    def update(self, storage: RolloutStorage, remaining: float) -> dict[str, float]:
        """Several epochs over the rollout; `remaining` (1 -> 0) anneals lr and clip range."""
        cfg = self.cfg
        lr = cfg.lr * (remaining if cfg.anneal_lr else 1.0)
        clip = cfg.clip_coef * (remaining if cfg.anneal_clip else 1.0)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        sums: dict[str, torch.Tensor] = {}
        count = 0
        for _ in range(cfg.update_epochs):
            for batch in storage.minibatches(cfg.num_minibatches):
                total, parts = self.loss(batch, clip)
                self.optimizer.zero_grad(set_to_none=True)
                total.backward()
                clipped_adam_step(self.optimizer, cfg.max_grad_norm)
                for key, value in parts.items():
                    sums[key] = sums.get(key, 0.0) + value
                count += 1
            if cfg.target_kl > 0 and parts["approx_kl"].item() > cfg.target_kl:
                break  # approximate-KL early stop (CleanRL: checked after each epoch)
        self.updates += 1
        metrics = {key: float(value / count) for key, value in sums.items()}
        metrics.update(lr=lr, clip=clip, epochs=count / cfg.num_minibatches,
                       explained_variance=explained_variance(storage.values.flatten(), storage.returns.flatten()))
        return metrics

    def state_dict(self) -> dict:
        """Everything a resume needs: the network, Adam's moments, the update count."""
        return {"net": self.net.state_dict(), "optimizer": self.optimizer.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict) -> None:
        """Restore `state_dict()`, keeping this config's adam_eps (a resume may override it)."""
        self.net.load_state_dict(state["net"])
        load_adam_state(self.optimizer, state["optimizer"])  # eps: this config's (update() sets the annealed lr)
        self.updates = int(state["updates"])
