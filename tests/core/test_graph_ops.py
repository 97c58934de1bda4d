import torch

from disco_core.graph_ops import (knn_graph, radius, radius_graph, segment_argmax, segment_log_softmax,
                                  segment_max, segment_mean, segment_sum)


def brute_force_radius_pairs(x, y, r, bx, by):
    d = torch.cdist(x, y)
    ok = (d < r) & (bx[:, None] == by[None, :])
    return set(map(tuple, torch.nonzero(ok).tolist()))


def test_radius_matches_brute_force_with_batches_and_chunks():
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(70, 3, generator=gen) * 3, torch.randn(50, 3, generator=gen) * 3
    bx, by = torch.arange(70) // 35, torch.arange(50) // 25
    edges = radius(x, y, 2.5, bx, by, chunk=16)
    assert set(map(tuple, edges.T.tolist())) == brute_force_radius_pairs(x, y, 2.5, bx, by)


def test_radius_per_graph_cutoff_and_neighbour_cap():
    x = torch.tensor([[0.0, 0, 0], [10.0, 0, 0]])
    y = torch.tensor([[1.0, 0, 0], [2.0, 0, 0], [11.0, 0, 0], [14.0, 0, 0]])
    bx, by = torch.tensor([0, 1]), torch.tensor([0, 0, 1, 1])
    edges = radius(x, y, torch.tensor([1.5, 5.0]), bx, by)
    assert set(map(tuple, edges.T.tolist())) == {(0, 0), (1, 2), (1, 3)}
    capped = radius(x, y, 100.0, bx, by, max_num_neighbors=1)
    assert set(map(tuple, capped.T.tolist())) == {(0, 0), (1, 2)}


def test_radius_graph_is_symmetric_without_loops():
    x = torch.randn(40, 3, generator=torch.Generator().manual_seed(1)) * 2
    edges = radius_graph(x, 2.0)
    pairs = set(map(tuple, edges.T.tolist()))
    assert all((j, i) in pairs for i, j in pairs) and all(i != j for i, j in pairs)
    assert pairs == {p for p in brute_force_radius_pairs(x, x, 2.0, torch.zeros(40), torch.zeros(40)) if p[0] != p[1]}


def test_knn_graph_gives_k_nearest_per_target():
    x = torch.randn(30, 3, generator=torch.Generator().manual_seed(2))
    source, target = knn_graph(x, k=4)
    assert torch.all(torch.bincount(target, minlength=30) == 4)
    d = torch.cdist(x, x).fill_diagonal_(float("inf"))
    for t in range(30):
        assert set(source[target == t].tolist()) == set(d[t].topk(4, largest=False).indices.tolist())


def test_segment_reductions():
    src = torch.tensor([1.0, 2.0, 3.0, 4.0, -1.0])
    idx = torch.tensor([0, 0, 1, 1, 2])
    assert torch.equal(segment_sum(src, idx, 3), torch.tensor([3.0, 7.0, -1.0]))
    assert torch.equal(segment_mean(src, idx, 3), torch.tensor([1.5, 3.5, -1.0]))
    assert torch.equal(segment_max(src, idx, 3), torch.tensor([2.0, 4.0, -1.0]))
    assert torch.equal(segment_argmax(src, idx, 3), torch.tensor([1, 3, 4]))
    logp = segment_log_softmax(src, idx, 3)
    assert torch.allclose(segment_sum(logp.exp(), idx, 3), torch.ones(3))
