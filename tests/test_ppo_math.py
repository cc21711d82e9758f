"""PPO's numerical pieces against hand-computed values: GAE with episode ends, the clipped losses."""

import math

import gymnasium as gym
import numpy as np
import pytest
import torch

from rlkit.agents.ppo.learner import explained_variance, policy_loss, value_loss
from rlkit.agents.ppo.network import ActorCritic
from rlkit.storage import RolloutStorage, gae

GAMMA, LAM = 0.9, 0.8


def filled_storage() -> RolloutStorage:
    """Two envs, four steps. Env 0: terminated at t=1, truncated at t=3 (V(final obs) = 10).
    Env 1: no episode end; bootstraps from last_value = 2."""
    space = gym.spaces.Box(-1.0, 1.0, (3,), np.float32)
    storage = RolloutStorage(4, 2, space, gym.spaces.Discrete(2), torch.device("cpu"))
    rewards = np.array([[1, 0], [2, 0], [3, 0], [4, 1]], dtype=np.float32)
    values = torch.tensor([[0.5, 0.0], [1.0, 0.0], [1.5, 0.0], [2.0, 0.0]])
    terminated = np.array([[0, 0], [1, 0], [0, 0], [0, 0]], dtype=bool)
    reset = np.array([[0, 0], [1, 0], [0, 0], [1, 0]], dtype=bool)  # the truncation resets env 0
    for t in range(4):
        storage.add(t, torch.zeros(2, 3), torch.zeros(2, dtype=torch.long), torch.zeros(2), values[t])
        storage.add_outcome(t, rewards[t], terminated[t] | reset[t])
    storage.bootstrap(3, np.array([0]), torch.tensor([10.0]), GAMMA)
    storage.compute_advantages(torch.tensor([7.0, 2.0]), GAMMA, LAM)
    return storage


def test_gae_matches_hand_computed_values_with_terminations_and_truncations():
    storage = filled_storage()
    # Env 0, backwards. t=3 truncated: r = 4 + 0.9 * 10 = 13, no V(s_4) (next episode): A = 13 - 2 = 11.
    # t=2: delta = 3 + 0.9 * 2 - 1.5 = 3.3; A = 3.3 + 0.72 * 11 = 11.22.
    # t=1 terminated: A = 2 - 1 = 1.  t=0: delta = 1 + 0.9 * 1 - 0.5 = 1.4; A = 1.4 + 0.72 * 1 = 2.12.
    # Env 1: t=3: A = 1 + 0.9 * 2 = 2.8; then A_t = 0.72 * A_{t+1}: 2.016, 1.45152, 1.0450944.
    expected = torch.tensor([[2.12, 1.0450944], [1.0, 1.45152], [11.22, 2.016], [11.0, 2.8]])
    torch.testing.assert_close(storage.advantages, expected)
    torch.testing.assert_close(storage.returns, expected + storage.values)
    assert storage.rewards[3, 0].item() == pytest.approx(13.0)


def test_gae_with_lambda_one_is_the_discounted_return_minus_value():
    rewards = torch.tensor([[1.0], [1.0], [1.0]])
    values = torch.tensor([[0.3], [0.2], [0.1]])
    ends = torch.zeros(3, 1)
    adv = gae(rewards, values, ends, torch.tensor([5.0]), gamma=0.5, lam=1.0)
    returns = [1 + 0.5 + 0.25 + 0.125 * 5, 1 + 0.5 + 0.25 * 5, 1 + 0.5 * 5]
    torch.testing.assert_close(adv.squeeze(1), torch.tensor(returns) - values.squeeze(1))


def test_minibatches_cover_the_rollout_once_and_images_stay_channels_last():
    space = gym.spaces.Box(0, 255, (4, 6, 5), np.uint8)
    storage = RolloutStorage(3, 4, space, gym.spaces.Discrete(3), torch.device("cpu"))
    for t in range(3):
        frames = torch.arange(4 * 120, dtype=torch.int64).reshape(4, 4, 6, 5) % 251
        frames[:, 0, 0, 0] = t * 4 + torch.arange(4)  # a tag per (step, env)
        storage.add(t, frames.to(torch.uint8), torch.arange(4), torch.zeros(4), t * 4 + torch.arange(4.0))
    batches = list(storage.minibatches(5))
    assert sum(len(b.values) for b in batches) == 12
    tags = torch.cat([b.obs[:, 0, 0, 0] for b in batches]).long()
    assert sorted(tags.tolist()) == list(range(12))
    assert torch.equal(tags.float(), torch.cat([b.values for b in batches]))  # rows stay aligned
    for b in batches:
        assert b.obs.is_contiguous(memory_format=torch.channels_last)
        torch.testing.assert_close(b.obs[:, 1:].long(), storage.obs.reshape(12, 4, 6, 5)[b.values.long(), 1:].long())
    orders = {tuple(torch.cat([b.values for b in storage.minibatches(5)]).long().tolist()) for _ in range(5)}
    assert len(orders) > 1  # each epoch shuffles afresh


def test_clipped_surrogate_against_hand_computed_reference():
    ratio = torch.tensor([1.5, 0.5, 1.5, 0.5, 1.0])
    advantages = torch.tensor([2.0, -1.0, -1.0, 2.0, 3.0])
    # min(r A, clip(r, 0.8, 1.2) A): 2.4 (clipped), -0.8 (clipped), -1.5, 1.0, 3.0
    expected = -(2.4 - 0.8 - 1.5 + 1.0 + 3.0) / 5
    logratio = ratio.log().requires_grad_()
    loss = policy_loss(logratio, advantages, clip=0.2)
    assert loss.item() == pytest.approx(expected)
    loss.backward()
    # d/dlogratio of -mean(r A) is -r A / 5 where the unclipped term is the minimum, else 0.
    torch.testing.assert_close(logratio.grad, torch.tensor([0.0, 0.0, 1.5, -1.0, -3.0]) / 5)


def test_clipped_surrogate_matches_the_formula_on_random_inputs():
    generator = torch.Generator().manual_seed(0)
    logratio = torch.randn(1000, generator=generator) * 0.3
    advantages = torch.randn(1000, generator=generator)
    r, a = logratio.exp().numpy(), advantages.numpy()
    reference = -np.mean(np.minimum(r * a, np.clip(r, 0.9, 1.1) * a))
    assert policy_loss(logratio, advantages, 0.1).item() == pytest.approx(reference, rel=1e-5)


def test_value_loss_clipping():
    values, old, returns = torch.tensor([1.0, 3.0]), torch.tensor([0.0, 0.0]), torch.tensor([2.0, 2.0])
    assert value_loss(values, old, returns, None).item() == pytest.approx(0.5 * (1 + 1) / 2)
    # clip 0.5: clipped values 0.5 and 0.5 -> errors 2.25 each; max with 1 and 1 -> 2.25
    assert value_loss(values, old, returns, 0.5).item() == pytest.approx(0.5 * 2.25)


def test_explained_variance():
    target = torch.tensor([1.0, 2.0, 3.0, 4.0])
    assert explained_variance(target, target) == pytest.approx(1.0)
    assert explained_variance(torch.full((4,), 2.5), target) == pytest.approx(0.0)
    assert np.isnan(explained_variance(torch.tensor([1.0]), torch.tensor([2.0])))  # one sample: no variance, no warning


@pytest.mark.parametrize("space", [gym.spaces.Discrete(5), gym.spaces.Box(-2.0, 2.0, (3,), np.float32)])
def test_log_probs_and_entropy_match_torch_distributions(space):
    torch.manual_seed(0)
    net = ActorCritic(gym.spaces.Box(-1.0, 1.0, (4,), np.float32), space, [16], init_log_std=-0.5)
    obs = torch.randn(7, 4)
    actions, logprobs, values = (x.clone() for x in net.act(obs))  # inference tensors -> normal
    with torch.no_grad():
        params, _ = net(obs)
        if isinstance(space, gym.spaces.Discrete):
            dist = torch.distributions.Categorical(logits=params)
            reference_lp, reference_ent = dist.log_prob(actions), dist.entropy()
        else:
            dist = torch.distributions.Normal(params, net.policy.log_std.exp())
            reference_lp, reference_ent = dist.log_prob(actions).sum(-1), dist.entropy().sum(-1)
            assert net.policy.log_std[0].item() == pytest.approx(-0.5)
        new_lp, entropy, new_values = net.evaluate(obs, actions)
        assert math.isfinite(float(net.value(obs).sum()))
    torch.testing.assert_close(logprobs, reference_lp)
    torch.testing.assert_close(new_lp, reference_lp)
    torch.testing.assert_close(entropy, reference_ent)
    torch.testing.assert_close(values, new_values)


def test_update_anneals_lr_and_clip_and_stops_early_on_kl():
    from rlkit.agents.ppo.config import AgentConfig
    from rlkit.agents.ppo.learner import PPOLearner

    torch.manual_seed(0)
    obs_space, action_space = gym.spaces.Box(-1.0, 1.0, (4,), np.float32), gym.spaces.Discrete(2)
    storage = RolloutStorage(16, 4, obs_space, action_space, torch.device("cpu"))
    net = ActorCritic(obs_space, action_space, [8])
    for t in range(16):
        obs = torch.randn(4, 4)
        storage.add(t, obs, *(x.clone() for x in net.act(obs)))
        storage.add_outcome(t, np.random.default_rng(t).normal(size=4).astype(np.float32), np.zeros(4, bool))
    storage.compute_advantages(torch.zeros(4), 0.99, 0.95)

    def update(**overrides):
        cfg = AgentConfig(**{"lr": 1e-2, "clip_coef": 0.2, "update_epochs": 4, "num_minibatches": 2, **overrides})
        learner = PPOLearner(net, cfg)
        return learner.update(storage, remaining=0.25), learner

    metrics, learner = update(anneal_lr=True, anneal_clip=True)
    assert metrics["lr"] == pytest.approx(2.5e-3) and metrics["clip"] == pytest.approx(0.05)
    assert learner.optimizer.param_groups[0]["lr"] == pytest.approx(2.5e-3)
    assert metrics["epochs"] == 4 and learner.updates == 1
    metrics, _ = update(anneal_lr=False, target_kl=1e-12)  # any change of policy exceeds it
    assert metrics["lr"] == pytest.approx(1e-2) and metrics["clip"] == pytest.approx(0.2)
    assert metrics["epochs"] == 1


@pytest.mark.parametrize("options", [
    {}, {"norm_adv": False}, {"clip_vloss": True}, {"vf_coef": 2.0, "ent_coef": 0.3},
])
def test_the_total_loss_combines_its_parts_as_configured(options):
    """pg - ent_coef * entropy + vf_coef * value loss, with normalised advantages and clipped values when set."""
    from rlkit.agents.ppo.config import AgentConfig
    from rlkit.agents.ppo.learner import PPOLearner
    from rlkit.storage import Batch

    torch.manual_seed(1)
    obs_space, action_space = gym.spaces.Box(-1.0, 1.0, (4,), np.float32), gym.spaces.Discrete(3)
    net = ActorCritic(obs_space, action_space, [8])
    obs = torch.randn(6, 4)
    actions = torch.randint(0, 3, (6,))
    batch = Batch(obs=obs, actions=actions, logprobs=torch.randn(6) * 0.1 - 1.1, values=torch.randn(6),
                  advantages=torch.randn(6) * 3 + 1, returns=torch.randn(6))
    cfg = AgentConfig(**options)
    total, parts = PPOLearner(net, cfg).loss(batch, clip=0.2)

    logprobs, entropy, values = net.evaluate(obs, actions)
    advantages = batch.advantages
    if cfg.norm_adv:
        advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    ratio = (logprobs - batch.logprobs).exp()
    pg = -torch.min(ratio * advantages, ratio.clamp(0.8, 1.2) * advantages).mean()
    if cfg.clip_vloss:
        clipped = batch.values + (values - batch.values).clamp(-0.2, 0.2)
        v = 0.5 * torch.max((values - batch.returns) ** 2, (clipped - batch.returns) ** 2).mean()
    else:
        v = 0.5 * ((values - batch.returns) ** 2).mean()
    expected = pg - cfg.ent_coef * entropy.mean() + cfg.vf_coef * v
    torch.testing.assert_close(total, expected)
    torch.testing.assert_close(parts["value_loss"], v.detach())


def test_updates_clip_the_gradient_norm_before_each_step(monkeypatch):
    from rlkit.agents.ppo.config import AgentConfig
    from rlkit.agents.ppo.learner import PPOLearner

    storage = filled_storage()
    net = ActorCritic(gym.spaces.Box(-1.0, 1.0, (3,), np.float32), gym.spaces.Discrete(2), [8])
    learner = PPOLearner(net, AgentConfig(max_grad_norm=1e-3, num_minibatches=2, update_epochs=2))
    import rlkit.agents.ppo.learner as module

    limits = []  # tests/test_optim.py checks the clipped step itself
    step = module.clipped_adam_step
    monkeypatch.setattr(module, "clipped_adam_step", lambda optimizer, max_norm: (limits.append(max_norm),
                                                                                   step(optimizer, max_norm)))
    learner.update(storage, remaining=1.0)
    assert limits == [1e-3] * 4  # every minibatch step, 2 epochs x 2 minibatches


def test_approx_kl_is_the_k3_estimator_and_clipfrac_counts_both_sides():
    """approx_kl is mean((r - 1) - log r), not mean(-log r); clipfrac counts ratios off 1 by more than clip either way."""
    from rlkit.agents.ppo.config import AgentConfig
    from rlkit.agents.ppo.learner import PPOLearner
    from rlkit.storage import Batch

    torch.manual_seed(0)
    obs_space, action_space = gym.spaces.Box(-1.0, 1.0, (4,), np.float32), gym.spaces.Discrete(2)
    net = ActorCritic(obs_space, action_space, [8])
    obs, actions = torch.randn(3, 4), torch.tensor([0, 1, 0])
    with torch.no_grad():
        logprobs, _, _ = net.evaluate(obs, actions)
    ratio = torch.tensor([0.5, 1.0, 2.0])  # old log-probs chosen so that new / old is exactly this
    batch = Batch(obs=obs, actions=actions, logprobs=logprobs - ratio.log(), values=torch.zeros(3),
                  advantages=torch.tensor([1.0, -1.0, 2.0]), returns=torch.zeros(3))
    _, parts = PPOLearner(net, AgentConfig()).loss(batch, clip=0.2)
    # k3: ((0.5 - 1) - log 0.5 + 0 + (2 - 1) - log 2) / 3 = 0.5 / 3; the k1 estimate -mean(log r) would be 0
    assert parts["approx_kl"].item() == pytest.approx(1 / 6, abs=1e-6)
    assert parts["clipfrac"].item() == pytest.approx(2 / 3)  # |r - 1| = 0.5, 0, 1.0 against 0.2


@pytest.mark.parametrize("anneal_lr, anneal_clip, lr, clip", [
    (True, False, 2.5e-3, 0.2), (False, True, 1e-2, 0.05),
])
def test_lr_and_clip_anneal_each_by_their_own_switch(anneal_lr, anneal_clip, lr, clip):
    """agent.anneal_lr scales only the lr and agent.anneal_clip only the clip range, by `remaining` (0.25 here)."""
    from rlkit.agents.ppo.config import AgentConfig
    from rlkit.agents.ppo.learner import PPOLearner

    torch.manual_seed(0)
    net = ActorCritic(gym.spaces.Box(-1.0, 1.0, (3,), np.float32), gym.spaces.Discrete(2), [8])
    cfg = AgentConfig(lr=1e-2, clip_coef=0.2, anneal_lr=anneal_lr, anneal_clip=anneal_clip, update_epochs=1)
    learner = PPOLearner(net, cfg)
    metrics = learner.update(filled_storage(), remaining=0.25)
    assert metrics["lr"] == pytest.approx(lr) and metrics["clip"] == pytest.approx(clip)
    assert learner.optimizer.param_groups[0]["lr"] == pytest.approx(lr)


def test_update_reports_the_explained_variance_of_the_returns_by_the_rollout_values():
    """The metric is 1 - Var[returns - values] / Var[returns] (the critic's fit to its targets), not with Var[values]."""
    from rlkit.agents.ppo.config import AgentConfig
    from rlkit.agents.ppo.learner import PPOLearner

    torch.manual_seed(0)
    storage = filled_storage()
    net = ActorCritic(gym.spaces.Box(-1.0, 1.0, (3,), np.float32), gym.spaces.Discrete(2), [8])
    metrics = PPOLearner(net, AgentConfig(update_epochs=1)).update(storage, remaining=1.0)
    # returns - values = the advantages of the GAE test: 1 - 16.7765 / 22.4439 = 0.2525 (over Var[values] = 0.5469: -29.7)
    advantages = torch.tensor([2.12, 1.0450944, 1.0, 1.45152, 11.22, 2.016, 11.0, 2.8])
    returns = advantages + torch.tensor([0.5, 0.0, 1.0, 0.0, 1.5, 0.0, 2.0, 0.0])
    expected = 1 - advantages.var(correction=0) / returns.var(correction=0)
    assert metrics["explained_variance"] == pytest.approx(float(expected), rel=1e-5)
    assert metrics["explained_variance"] == pytest.approx(0.25251, abs=1e-4)


def test_gaussian_samples_have_the_standard_deviation_exp_log_std():
    """Sampled actions spread by exp(log_std) per dimension (0.5 and 2 here), the std log_prob assumes."""
    from rlkit.agents.ppo.network import GaussianHead

    head = GaussianHead(4, 2, init_log_std=0.0)
    with torch.no_grad():
        head.log_std.copy_(torch.tensor([math.log(0.5), math.log(2.0)]))
    torch.manual_seed(0)
    mean = torch.tensor([1.0, -3.0]).expand(200_000, 2)
    with torch.no_grad():
        actions = head.sample(mean)
        logprobs = head.log_prob(mean, actions)
    torch.testing.assert_close(actions.mean(0), torch.tensor([1.0, -3.0]), atol=0.02, rtol=0)
    torch.testing.assert_close(actions.std(0), torch.tensor([0.5, 2.0]), atol=0.01, rtol=0)
    # E[log p(a)] over a's own distribution is minus the entropy: -(1 + log 2pi + log 0.5 + log 2)
    assert logprobs.mean().item() == pytest.approx(-(1 + math.log(2 * math.pi)), abs=0.01)


def test_value_uses_the_critic_torso_when_the_critic_has_its_own():
    """Vector observations get separate actor and critic MLPs: value() (bootstraps) must equal forward()'s values."""
    torch.manual_seed(0)
    net = ActorCritic(gym.spaces.Box(-1.0, 1.0, (4,), np.float32), gym.spaces.Discrete(2), [16])
    assert net.critic_torso is not None
    obs = torch.randn(5, 4)
    with torch.no_grad():
        _, values = net(obs)
        expected = net.critic_head(net.critic_torso(obs)).squeeze(-1)
        torch.testing.assert_close(net.value(obs), values, rtol=0, atol=0)
        torch.testing.assert_close(values, expected, rtol=0, atol=0)
        assert not torch.allclose(net.critic_head(net.actor_torso(obs)).squeeze(-1), values)  # the torsos differ
