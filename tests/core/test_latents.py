import torch

from disco_core.latents import (LatentDropout, classifier_free_guidance, gumbel_softmax_st,
                                segment_gumbel_softmax_st)


def test_straight_through_is_hard_forward_and_passes_gradients():
    logits = torch.randn(16, 3, 5, requires_grad=True)
    z = gumbel_softmax_st(logits, tau=1.0, generator=torch.Generator().manual_seed(0))
    hard = z.detach().round()
    assert torch.allclose(z.detach(), hard, atol=1e-6) and torch.all(hard.sum(-1) == 1)
    (z * torch.randn(16, 3, 5)).sum().backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0


def test_gumbel_samples_follow_softmax():
    logits = torch.tensor([[0.0, 1.0, 2.0]]).expand(20000, 3)
    z = gumbel_softmax_st(logits, generator=torch.Generator().manual_seed(0))
    freq = z.mean(0)
    assert torch.allclose(freq, torch.softmax(logits[0], 0), atol=0.02)


def test_segment_gumbel_picks_exactly_one_node_per_graph():
    index = torch.tensor([0] * 5 + [1] * 1 + [2] * 9 + [3] * 3)
    logits = torch.randn(len(index), 2, requires_grad=True)
    picks = segment_gumbel_softmax_st(logits, index, 4, generator=torch.Generator().manual_seed(3))
    counts = torch.zeros(4, 2).index_add_(0, index, picks.detach())
    assert torch.allclose(counts, torch.ones(4, 2), atol=1e-6)
    assert torch.allclose(picks.detach(), picks.detach().round(), atol=1e-6)
    (picks * torch.randn_like(picks)).sum().backward()
    assert logits.grad.abs().sum() > 0


def test_segment_gumbel_frequencies_match_per_graph_softmax():
    index = torch.tensor([0, 0, 0, 1, 1])
    logits = torch.tensor([0.0, 1.0, -1.0, 2.0, 0.0])
    gen = torch.Generator().manual_seed(0)
    total = torch.zeros(5)
    for _ in range(4000):
        total += segment_gumbel_softmax_st(logits, index, 2, generator=gen)
    expected = torch.cat([torch.softmax(logits[:3], 0), torch.softmax(logits[3:], 0)])
    assert torch.allclose(total / 4000, expected, atol=0.03)


def test_latent_dropout_replaces_whole_examples_with_learned_null():
    drop = LatentDropout((2, 4), p=0.5)
    with torch.no_grad():
        drop.null.fill_(7.0)
    z = torch.randn(6, 2, 4)
    mask = torch.tensor([True, False, True, False, False, True])
    out = drop(z, drop=mask)
    assert torch.all(out[mask] == 7.0) and torch.equal(out[~mask], z[~mask])
    drop.eval()
    assert torch.equal(drop(z), z)          # no dropout at evaluation unless forced


def test_classifier_free_guidance_formula():
    cond, uncond = torch.tensor([2.0, -1.0]), torch.tensor([1.0, 1.0])
    assert torch.equal(classifier_free_guidance(cond, uncond, 0.0), cond)
    assert torch.allclose(classifier_free_guidance(cond, uncond, 1.5), cond + 1.5 * (cond - uncond))
