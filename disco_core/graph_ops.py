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


def radius(x: torch.Tensor, y: torch.Tensor, r: float | torch.Tensor, batch_x: torch.Tensor | None = None,
           batch_y: torch.Tensor | None = None, max_num_neighbors: int = 10_000,
           chunk: int = 4096) -> torch.Tensor:
    """Bipartite radius graph: edges (i in x, j in y) with |x_i - y_j| < r within the same graph.

    `r` may be a scalar or one radius per graph of `batch_x` (noise-dependent cutoffs).
    Returns `[2, E]` with row 0 indexing `x` and row 1 indexing `y`; per x node, the nearest
    `max_num_neighbors` are kept.
    """
    batch_x = torch.zeros(x.shape[0], dtype=torch.long, device=x.device) if batch_x is None else batch_x
    batch_y = torch.zeros(y.shape[0], dtype=torch.long, device=y.device) if batch_y is None else batch_y
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
