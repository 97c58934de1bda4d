"""Graph primitives in plain torch (segment reductions, radius and kNN graphs).

`torch_scatter` / `torch_cluster` are used when installed; nothing compiled is required.
Graphs are given PyG-style: node tensors plus a `batch` vector of graph indices.
"""

from __future__ import annotations

import torch

try:  # optional accelerators
    import torch_cluster as _torch_cluster  # type: ignore
except ImportError:  # pragma: no cover - depends on the environment
    _torch_cluster = None


def segment_sum(src: torch.Tensor, index: torch.Tensor, num_segments: int) -> torch.Tensor:
    out = src.new_zeros((num_segments,) + src.shape[1:])
    return out.index_add_(0, index, src)


def segment_mean(src: torch.Tensor, index: torch.Tensor, num_segments: int) -> torch.Tensor:
    total = segment_sum(src, index, num_segments)
    count = segment_sum(torch.ones_like(index, dtype=src.dtype), index, num_segments).clamp(min=1)
    return total / count.view(-1, *([1] * (src.dim() - 1)))


def segment_max(src: torch.Tensor, index: torch.Tensor, num_segments: int) -> torch.Tensor:
    shape = (num_segments,) + src.shape[1:]
    expanded = index.view(-1, *([1] * (src.dim() - 1))).expand_as(src)
    out = src.new_full(shape, float("-inf"))
    return out.scatter_reduce(0, expanded, src, reduce="amax", include_self=True)


def segment_log_softmax(logits: torch.Tensor, index: torch.Tensor, num_segments: int) -> torch.Tensor:
    """log softmax of `logits` within each segment (e.g. over the nodes of each graph)."""
    shift = segment_max(logits, index, num_segments).detach()[index]
    shifted = logits - shift
    log_norm = segment_sum(shifted.exp(), index, num_segments).log()[index]
    return shifted - log_norm


def segment_softmax(logits: torch.Tensor, index: torch.Tensor, num_segments: int) -> torch.Tensor:
    return segment_log_softmax(logits, index, num_segments).exp()


def segment_argmax(src: torch.Tensor, index: torch.Tensor, num_segments: int) -> torch.Tensor:
    """Index (into `src`) of the largest entry of each segment; ties resolve to the first."""
    best = segment_max(src, index, num_segments)[index]
    position = torch.arange(src.shape[0], device=src.device)
    candidates = torch.where(src >= best, position, torch.full_like(position, src.shape[0]))
    out = torch.full((num_segments,), src.shape[0], dtype=torch.long, device=src.device)
    return out.scatter_reduce(0, index, candidates, reduce="amin", include_self=True)


def _pairwise_blocks(x: torch.Tensor, y: torch.Tensor, batch_x: torch.Tensor, batch_y: torch.Tensor,
                     chunk: int):
    """Yield (row offset, distances, same-graph mask) over row chunks to bound memory."""
    for start in range(0, x.shape[0], chunk):
        xs = x[start:start + chunk]
        dist = torch.cdist(xs, y)
        same = batch_x[start:start + chunk, None] == batch_y[None, :]
        yield start, dist, same


def _padded(points: torch.Tensor, batch: torch.Tensor, num_graphs: int) -> tuple[torch.Tensor, torch.Tensor,
                                                                                 torch.Tensor]:
    """(G, max_n, 3) zero-padded per-graph blocks of sorted `batch`, each node's slot, graph start offsets."""
    counts = torch.bincount(batch, minlength=num_graphs)
    starts = torch.cumsum(counts, 0) - counts
    slot = torch.arange(points.shape[0], device=points.device) - starts[batch]
    blocks = points.new_zeros(num_graphs, int(counts.max()) if points.shape[0] else 0, points.shape[1])
    blocks[batch, slot] = points
    return blocks, counts, starts


def _radius_per_graph(x: torch.Tensor, y: torch.Tensor, r: float | torch.Tensor, batch_x: torch.Tensor,
                      batch_y: torch.Tensor, num_graphs: int, max_num_neighbors: int) -> torch.Tensor:
    """`radius` for sorted batches: distances only within each graph (G x n x m instead of (Gn) x (Gm))."""
    xs, count_x, start_x = _padded(x, batch_x, num_graphs)
    ys, count_y, start_y = _padded(y, batch_y, num_graphs)
    dist = torch.cdist(xs, ys)                                                        # (G, n, m)
    cutoff = r[:, None, None] if torch.is_tensor(r) and r.dim() > 0 else r
    y_real = torch.arange(ys.shape[1], device=y.device)[None, :] < count_y[:, None]   # (G, m)
    dist = torch.where(y_real[:, None, :] & (dist < cutoff), dist, torch.full_like(dist, float("inf")))
    if max_num_neighbors < dist.shape[2]:
        dist, col = dist.topk(max_num_neighbors, dim=2, largest=False)
    else:
        col = torch.arange(dist.shape[2], device=x.device).expand_as(dist)
    x_real = torch.arange(xs.shape[1], device=x.device)[None, :] < count_x[:, None]   # (G, n)
    keep = torch.isfinite(dist) & x_real[:, :, None]
    graph, row, _ = torch.nonzero(keep, as_tuple=True)
    return torch.stack([start_x[graph] + row, start_y[graph] + col[keep]])


def radius(x: torch.Tensor, y: torch.Tensor, r: float | torch.Tensor, batch_x: torch.Tensor | None = None,
           batch_y: torch.Tensor | None = None, max_num_neighbors: int = 10_000,
           chunk: int = 4096, max_block_entries: int = 2 ** 24) -> torch.Tensor:
    """Bipartite radius graph: edges (i in x, j in y) with |x_i - y_j| < r within the same graph.

    `r` may be a scalar or one radius per graph of `batch_x` (noise-dependent cutoffs).
    Returns `[2, E]` with row 0 indexing `x` and row 1 indexing `y`; per x node, the nearest
    `max_num_neighbors` are kept. Sorted batch vectors (PyG's) take a per-graph path whose cost grows
    with the batch, not its square; others, or blocks too large for memory, use row chunks.
    """
    batch_x = torch.zeros(x.shape[0], dtype=torch.long, device=x.device) if batch_x is None else batch_x
    batch_y = torch.zeros(y.shape[0], dtype=torch.long, device=y.device) if batch_y is None else batch_y
    if x.shape[0] and y.shape[0]:
        num_graphs = int(max(batch_x.max(), batch_y.max())) + 1
        is_sorted = bool((batch_x[1:] >= batch_x[:-1]).all() and (batch_y[1:] >= batch_y[:-1]).all())
        if is_sorted and r_is_per_graph_or_scalar(r, num_graphs):
            block = num_graphs * int(torch.bincount(batch_x).max()) * int(torch.bincount(batch_y).max())
            if block <= max_block_entries:
                per_graph_r = r if not (torch.is_tensor(r) and r.dim() > 0) else \
                    torch.nn.functional.pad(r, (0, num_graphs - r.shape[0]), value=0.0)
                return _radius_per_graph(x, y, per_graph_r, batch_x, batch_y, num_graphs, max_num_neighbors)
    r_per_x = r[batch_x] if torch.is_tensor(r) and r.dim() > 0 else None
    rows, cols = [], []
    for start, dist, same in _pairwise_blocks(x, y, batch_x, batch_y, chunk):
        cutoff = r if r_per_x is None else r_per_x[start:start + dist.shape[0], None]
        dist = torch.where(same & (dist < cutoff), dist, torch.full_like(dist, float("inf")))
        if max_num_neighbors < dist.shape[1]:
            dist, col = dist.topk(max_num_neighbors, dim=1, largest=False)
        else:
            col = torch.arange(dist.shape[1], device=x.device).expand_as(dist)
        keep = torch.isfinite(dist)
        row = torch.arange(dist.shape[0], device=x.device)[:, None].expand_as(dist)
        rows.append(row[keep] + start)
        cols.append(col[keep])
    if not rows:
        return torch.empty(2, 0, dtype=torch.long, device=x.device)
    return torch.stack([torch.cat(rows), torch.cat(cols)])


def r_is_per_graph_or_scalar(r: float | torch.Tensor, num_graphs: int) -> bool:
    return not torch.is_tensor(r) or r.dim() == 0 or r.shape[0] <= num_graphs


def radius_graph(x: torch.Tensor, r: float, batch: torch.Tensor | None = None, loop: bool = False,
                 max_num_neighbors: int = 10_000) -> torch.Tensor:
    """Edges (source, target) between nodes of one graph closer than `r` (PyG's convention)."""
    if _torch_cluster is not None and x.is_cuda:  # pragma: no cover
        return _torch_cluster.radius_graph(x, r, batch, loop, max_num_neighbors)
    edges = radius(x, x, r, batch, batch, max_num_neighbors + int(not loop))
    if not loop:
        edges = edges[:, edges[0] != edges[1]]
    return torch.stack([edges[1], edges[0]])


def knn_graph(x: torch.Tensor, k: int, batch: torch.Tensor | None = None, loop: bool = False,
              chunk: int = 4096) -> torch.Tensor:
    """Edges (source, target): each target node receives edges from its k nearest neighbours."""
    batch = torch.zeros(x.shape[0], dtype=torch.long, device=x.device) if batch is None else batch
    rows, cols = [], []
    for start, dist, same in _pairwise_blocks(x, x, batch, batch, chunk):
        dist = torch.where(same, dist, torch.full_like(dist, float("inf")))
        if not loop:
            idx = torch.arange(dist.shape[0], device=x.device)
            dist[idx, idx + start] = float("inf")
        kk = min(k, dist.shape[1])
        d, col = dist.topk(kk, dim=1, largest=False)
        keep = torch.isfinite(d)
        row = torch.arange(dist.shape[0], device=x.device)[:, None].expand_as(d)
        rows.append(row[keep] + start)
        cols.append(col[keep])
    target, source = torch.cat(rows), torch.cat(cols)
    return torch.stack([source, target])
