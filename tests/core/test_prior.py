import pytest
import torch

from disco_core.prior import TransformerPrior, sample_autoregressive, sample_categorical


def test_prior_learns_a_known_two_token_joint():
    """p(z1, z2) over a 3-code book with strong dependence between the tokens; KL(true || learned) < 0.05."""
    torch.manual_seed(0)
    joint = torch.tensor([[0.30, 0.02, 0.03], [0.02, 0.05, 0.28], [0.10, 0.15, 0.05]])
    flat = joint.flatten()
    data = torch.multinomial(flat, 20000, replacement=True, generator=torch.Generator().manual_seed(0))
    codes = torch.stack([data // 3, data % 3], dim=1)
    prior = TransformerPrior(num_latents=2, codebook_size=3, dim=32, depth=2, heads=2)
    opt = torch.optim.AdamW(prior.parameters(), lr=3e-3)
    for step in range(300):
        idx = torch.randint(0, len(codes), (512,))
        loss = prior.loss(None, codes[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        p1 = prior.next_logits(torch.zeros(1, dtype=torch.long), None).softmax(-1)[0]
        learned = torch.zeros(3, 3)
        for a in range(3):
            prev = torch.nn.functional.one_hot(torch.tensor([[a]]), 3).float()
            learned[a] = p1[a] * prior.next_logits(torch.zeros(1, dtype=torch.long), prev).softmax(-1)[0]
    kl = (joint * (joint / learned).log()).sum()
    assert kl < 0.05, kl
    samples = sample_autoregressive(prior, torch.zeros(4000, dtype=torch.long), 2,
                                    generator=torch.Generator().manual_seed(1))
    assert samples.shape == (4000, 2, 3)
    empirical = torch.zeros(3, 3)
    for a, b in zip(samples[:, 0].argmax(-1), samples[:, 1].argmax(-1)):
        empirical[a, b] += 1
    assert torch.allclose(empirical / 4000, joint, atol=0.04)


def test_class_conditional_prior_requires_label():
    """A class-conditional prior refuses to run without a label per example, and what it draws depends on
    the label: trained on a label -> codes table whose first code differs between labels (which no prior
    ignoring the label can fit), its greedy draws reproduce each label's row."""
    torch.manual_seed(0)
    prior = TransformerPrior(num_latents=2, codebook_size=4, num_classes=3, dim=16, depth=1, heads=2)
    with pytest.raises(ValueError, match="class-conditional: pass a label"):
        sample_autoregressive(prior, None, 2)
    with pytest.raises(ValueError, match="class-conditional: pass a label"):
        prior.loss(None, torch.zeros(4, 2, dtype=torch.long))
    table = torch.tensor([[0, 1], [3, 2], [1, 1]])        # label -> (z1, z2)
    labels = torch.arange(3)
    opt = torch.optim.AdamW(prior.parameters(), lr=1e-2)
    for _ in range(60):                                   # cross-entropy ~0.003 by then
        loss = prior.loss(labels, table[labels])
        opt.zero_grad()
        loss.backward()
        opt.step()
    asked = torch.tensor([2, 0, 1, 1, 0, 2])
    greedy = sample_autoregressive(prior, asked, 2, temperature=0)
    assert greedy.shape == (6, 2, 4)
    assert torch.equal(greedy.argmax(-1), table[asked])


def test_sampling_temperature_zero_and_top_k():
    logits = torch.tensor([[0.0, 3.0, 1.0, 2.0]]).expand(500, 4)
    assert torch.all(sample_categorical(logits, temperature=0).argmax(-1) == 1)
    picks = sample_categorical(logits, top_k=2, generator=torch.Generator().manual_seed(0)).argmax(-1)
    assert set(picks.tolist()) == {1, 3}


def test_segment_sampling_with_top_k_stays_in_each_graph():
    index = torch.tensor([0, 0, 0, 1, 1, 1, 1])
    logits = torch.tensor([5.0, 4.0, -9.0, 0.0, 3.0, 2.9, -5.0])
    seen = set()
    gen = torch.Generator().manual_seed(0)
    for _ in range(200):
        picks = sample_categorical(logits, top_k=2, generator=gen, segments=(index, 2))
        assert picks[:3].sum() == 1 and picks[3:].sum() == 1
        seen |= set(torch.nonzero(picks).flatten().tolist())
    assert seen == {0, 1, 4, 5}


class _AvoidRepeatsPrior:
    """A pointer prior over a batch of graphs (`condition`: base logits (N,)): latent k avoids the nodes that
    earlier latents picked (logit - 4 for each earlier pick)."""

    def next_logits(self, condition, previous):
        return condition if previous is None else condition - 4.0 * previous.sum(1)


def test_pointer_branch_picks_one_node_per_graph_and_follows_softmax():
    base = torch.tensor([1.5, 0.0, -1.0, 0.5, 2.0, -0.5, 0.0])   # graph 0: nodes 0-2, graph 1: nodes 3-6
    index = torch.tensor([0, 0, 0, 1, 1, 1, 1])
    copies = 4000
    condition = base.repeat(copies)
    copy_index = (index + 2 * torch.arange(copies)[:, None]).flatten()
    z = sample_autoregressive(_AvoidRepeatsPrior(), condition, 2, generator=torch.Generator().manual_seed(0),
                              segments=(copy_index, 2 * copies))
    assert z.shape == (7 * copies, 2) and z.dtype == torch.float32
    assert set(z.unique().tolist()) == {0.0, 1.0}
    per_graph = torch.zeros(2 * copies, 2).index_add_(0, copy_index, z)
    assert torch.equal(per_graph, torch.ones(2 * copies, 2))
    frequencies = z.view(copies, 7, 2).mean(0)
    for nodes in (slice(0, 3), slice(3, 7)):
        p_first = base[nodes].softmax(0)
        size = len(p_first)
        p_second = p_first @ (base[nodes] - 4.0 * torch.eye(size)).softmax(1)   # sum_a p(a) p(. | a)
        for k, p in ((0, p_first), (1, p_second)):
            bound = 4 * (p * (1 - p) / copies).sqrt()
            assert ((frequencies[nodes, k] - p).abs() <= bound).all(), (k, frequencies[nodes, k], p)
    # temperature 0 picks each graph's mode, then the mode among the nodes not picked yet
    mode = sample_autoregressive(_AvoidRepeatsPrior(), base, 2, temperature=0, segments=(index, 2))
    assert torch.nonzero(mode[:, 0]).flatten().tolist() == [0, 4]
    assert torch.nonzero(mode[:, 1]).flatten().tolist() == [1, 3]


def test_seeded_cpu_draws_are_those_of_sample_gumbel():
    """The Gumbel noise of a CPU generator is one torch.rand of the logits' shape (float32) per latent."""
    from disco_core.latents import sample_gumbel

    logits = torch.randn(6, 5, generator=torch.Generator().manual_seed(1))
    picks = sample_categorical(logits, 0.7, generator=torch.Generator().manual_seed(2))
    expected = (logits / 0.7 + sample_gumbel(logits.shape, logits, torch.Generator().manual_seed(2))).argmax(-1)
    assert torch.equal(picks.argmax(-1), expected)
    same = sample_gumbel((4,), logits, torch.Generator().manual_seed(3), device="cpu")
    assert torch.equal(same, sample_gumbel((4,), logits, torch.Generator().manual_seed(3)))
