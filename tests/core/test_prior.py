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
    prior = TransformerPrior(num_latents=2, codebook_size=4, num_classes=3, dim=16, depth=1, heads=2)
    out = sample_autoregressive(prior, torch.tensor([0, 2]), 2)
    assert out.shape == (2, 2, 4)


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
