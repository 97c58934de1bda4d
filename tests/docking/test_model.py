"""Docking networks on real complexes: output shapes, batching, the no-latent ablation, latent dropout,
classifier-free guidance, gradients into the pointer encoder, and the pointer prior's sampling."""

from __future__ import annotations

import dataclasses
import functools

import pytest
import torch
from torch_geometric.data import Batch, HeteroData

from data_prep.dataset import item_to_heterodata
from data_prep.featurize import FeaturizeOptions, featurize_pair
from disco_core.graph_ops import segment_argmax, segment_sum
from docking.model.graph_network import ComplexGraphNetwork, ScoreModelConfig, complex_node_graph_index
from docking.model.confidence_model import ConfidenceModel
from docking.model.pointer_latents import PointerEncoder, PointerPrior, pointer_distribution, pointer_prior_loss, sample_pointer_latents
from docking.model.score_model import ScoreModel, guided_scores
from tests.data_paths import complex_folder

# Small networks, so that every test runs in about a second on one CPU thread.
TINY = ScoreModelConfig(ns=8, nv=2, num_conv_layers=2, distance_embed_dim=8, cross_distance_embed_dim=8,
                        sigma_embed_dim=8, num_latents=2)


@functools.lru_cache(maxsize=None)
def _featurized(name: str) -> dict:
    folder = complex_folder(name)
    return featurize_pair(folder / f"{name}_protein.pdb", folder / f"{name}_ligand.sdf", name=name,
                          options=FeaturizeOptions(match_restarts=1))


def real_complex(name: str, num_residues: int | None = None, pose: str = "crystal") -> HeteroData:
    """A vendored complex (tests/data) as the data_prep loader builds it, optionally cut to the `num_residues`
    residues whose C-alpha lies closest to the crystal ligand's centroid (in chain order)."""
    item = dict(_featurized(name))
    if num_residues is not None:
        distance = (item["rec_pos"] - item["lig_pos_crystal"].mean(0)).norm(dim=-1)
        keep = distance.argsort()[:num_residues].sort().values
        for key in ("rec_pos", "rec_n_pos", "rec_c_pos", "rec_residue_type", "rec_esm"):
            if key in item:
                item[key] = item[key][keep]
        item["rec_residue_ids"] = [item["rec_residue_ids"][i] for i in keep.tolist()]
    return item_to_heterodata(item, pose, receptor_radius=None)


def two_complexes(num_residues: int = 80) -> Batch:
    return Batch.from_data_list([real_complex("1bju", num_residues), real_complex("1pxo", num_residues)])


def sigmas_for(num_graphs: int, scale: float = 1.0) -> dict[str, torch.Tensor]:
    base = torch.linspace(0.3, 1.0, num_graphs) * scale
    return {"tr": 5.0 * base, "rot": base, "tor": 2.0 * base}


def one_pick_per_graph(batch, generator: torch.Generator, num_latents: int = 2) -> torch.Tensor:
    index = complex_node_graph_index(batch)
    picks = torch.zeros(index.shape[0], num_latents)
    for k in range(num_latents):
        noise = torch.rand(index.shape[0], generator=generator)
        picks[segment_argmax(noise, index, int(index.max()) + 1), k] = 1.0
    return picks


def test_output_shapes_and_batching_match_single_complexes():
    torch.manual_seed(0)
    batch = two_complexes()
    n_nodes = batch["ligand"].num_nodes + batch["receptor"].num_nodes
    n_rot = batch["ligand", "rot", "ligand"].edge_index.shape[1]
    assert n_rot == 9  # 1bju: 5 rotatable bonds, 1pxo: 4
    score, encoder = ScoreModel(TINY).eval(), PointerEncoder(TINY).eval()
    prior, confidence = PointerPrior(TINY).eval(), ConfidenceModel(TINY).eval()
    sigmas = sigmas_for(2)
    with torch.no_grad():
        picks, logits = encoder.encode(batch, generator=torch.Generator().manual_seed(1))
        out = score(batch, sigmas, picks)
        prior_logits = prior(batch, picks[:, :1], 1)
        confidence_logits = confidence(batch)
    assert out["tr_score"].shape == (2, 3) and out["rot_score"].shape == (2, 3)
    assert out["tor_score"].shape == (n_rot,)
    assert logits.shape == (n_nodes, 2) and picks.shape == (n_nodes, 2)
    assert prior_logits.shape == (n_nodes,) and confidence_logits.shape == (2,)
    assert all(torch.isfinite(v).all() for v in [*out.values(), logits, prior_logits, confidence_logits])

    # Each graph's outputs do not depend on what else is in the batch.
    index = complex_node_graph_index(batch)
    lig_graph = batch["ligand"].batch
    for g, name in enumerate(["1bju", "1pxo"]):
        single = Batch.from_data_list([real_complex(name, 80)])
        node_rows = torch.cat([torch.nonzero(lig_graph == g).flatten(),
                               batch["ligand"].num_nodes + torch.nonzero(batch["receptor"].batch == g).flatten()])
        assert (index[node_rows] == g).all()
        with torch.no_grad():
            alone = score(single, {k: v[g:g + 1] for k, v in sigmas.items()}, picks[node_rows])
            alone_logits = encoder(single)
        rot_graph = lig_graph[batch["ligand", "rot", "ligand"].edge_index[0]]
        torch.testing.assert_close(alone["tr_score"][0], out["tr_score"][g], atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(alone["rot_score"][0], out["rot_score"][g], atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(alone["tor_score"], out["tor_score"][rot_graph == g], atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(alone_logits, logits[node_rows], atol=1e-5, rtol=1e-4)


def test_no_latent_ablation_runs_and_refuses_latents():
    config = dataclasses.replace(TINY, num_latents=0)
    model = ScoreModel(config).eval()
    assert model.backbone.latent_embedding is None
    batch = two_complexes(40)
    with torch.no_grad():
        out = model(batch, sigmas_for(2))
    assert out["tr_score"].shape == (2, 3) and torch.isfinite(out["tor_score"]).all()
    with pytest.raises(ValueError):
        model(batch, sigmas_for(2), torch.zeros(batch["ligand"].num_nodes + batch["receptor"].num_nodes, 2))
    with pytest.raises(ValueError):
        PointerEncoder(config)


def test_latent_dropout_one_ignores_picks_and_guidance_combines_null_and_conditional():
    torch.manual_seed(0)
    batch = two_complexes(40)
    generator = torch.Generator().manual_seed(3)
    picks_a, picks_b = one_pick_per_graph(batch, generator), one_pick_per_graph(batch, generator)
    assert not torch.equal(picks_a, picks_b)
    sigmas = sigmas_for(2)

    always_dropped = ScoreModel(dataclasses.replace(TINY, latent_dropout=1.0)).train()
    out_a, out_b = always_dropped(batch, sigmas, picks_a), always_dropped(batch, sigmas, picks_b)
    for key in out_a:
        torch.testing.assert_close(out_a[key], out_b[key], rtol=0, atol=0)
    # Control: the same network with the latents kept does see the picks.
    kept = torch.zeros(2, dtype=torch.bool)
    out_a, out_b = always_dropped(batch, sigmas, picks_a, kept), always_dropped(batch, sigmas, picks_b, kept)
    assert not torch.allclose(out_a["tr_score"], out_b["tr_score"])

    model = ScoreModel(TINY).eval()
    with torch.no_grad():
        conditional = model(batch, sigmas, picks_a)
        null = model(batch, sigmas, None)
        guided = guided_scores(model, batch, sigmas, picks_a, weight=2.0)
        unguided = guided_scores(model, batch, sigmas, picks_a, weight=0.0)
    for key in conditional:
        assert not torch.allclose(conditional[key], null[key])
        torch.testing.assert_close(unguided[key], conditional[key])
        torch.testing.assert_close(guided[key], 3 * conditional[key] - 2 * null[key])


def test_denoising_loss_step_updates_the_encoder_through_straight_through_picks():
    torch.manual_seed(0)
    config = dataclasses.replace(TINY, latent_dropout=0.0)
    crystal = two_complexes(40)
    noisy = crystal.clone()
    noisy["ligand"].pos = noisy["ligand"].pos + 2.0 * torch.randn(noisy["ligand"].pos.shape,
                                                                   generator=torch.Generator().manual_seed(5))
    encoder, score = PointerEncoder(config).train(), ScoreModel(config).train()
    before = {name: p.detach().clone() for name, p in encoder.named_parameters()}
    optimiser = torch.optim.Adam([*encoder.parameters(), *score.parameters()], lr=1e-2)

    picks, _ = encoder.encode(crystal, tau=1.0, generator=torch.Generator().manual_seed(6))
    out = score(noisy, sigmas_for(2), picks)
    target = torch.randn(2, 3, generator=torch.Generator().manual_seed(7))
    loss = ((out["tr_score"] - target) ** 2).sum() + ((out["rot_score"] + target) ** 2).sum() \
        + (out["tor_score"] ** 2).sum()
    optimiser.zero_grad()
    loss.backward()
    head_grad = encoder.head.lig_mlp[0].weight.grad
    backbone_grad = encoder.backbone.lig_layers[0].path_weights[0].weight.grad
    assert head_grad is not None and head_grad.abs().sum() > 0
    assert backbone_grad is not None and backbone_grad.abs().sum() > 0
    optimiser.step()
    changed = [name for name, p in encoder.named_parameters() if not torch.equal(before[name], p.detach())]
    assert any(name.startswith("head.") for name in changed)
    assert any(name.startswith("backbone.") for name in changed)


def test_prior_picks_one_node_per_graph_per_latent_and_learns_targets():
    torch.manual_seed(0)
    batch = two_complexes(40)
    index = complex_node_graph_index(batch)
    prior = PointerPrior(TINY).eval()
    for temperature in (1.0, 0.3):
        picks = sample_pointer_latents(prior, batch, 2, temperature, torch.Generator().manual_seed(2))
        assert picks.shape == (index.shape[0], 2)
        assert set(picks.unique().tolist()) <= {0.0, 1.0}
        assert torch.equal(segment_sum(picks, index, 2), torch.ones(2, 2))
    # At a vanishing temperature a draw is the argmax of the first latent's logits.
    with torch.no_grad():
        first = prior(batch, torch.zeros(index.shape[0], 0), 0)
    cold = sample_pointer_latents(prior, batch, 2, 1e-4, torch.Generator().manual_seed(2))
    assert torch.equal(torch.nonzero(cold[:, 0]).flatten(), segment_argmax(first, index, 2))

    # Cross-entropy against a fixed encoder-like distribution goes down when the prior is trained.
    target = pointer_distribution(3 * torch.randn(index.shape[0], 2, generator=torch.Generator().manual_seed(4)), batch)
    torch.testing.assert_close(segment_sum(target, index, 2), torch.ones(2, 2))
    prior.train()
    optimiser = torch.optim.Adam(prior.parameters(), lr=3e-2)
    losses = []
    for _ in range(6):
        loss = pointer_prior_loss(prior, batch, target)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < losses[0]


def test_cross_edge_cutoff_widens_with_translation_noise():
    config = TINY
    sigma = torch.tensor([0.0, 5.0, 100.0])
    torch.testing.assert_close(config.cross_cutoff(sigma), torch.tensor([20.0, 35.0, 80.0]))
    batch = Batch.from_data_list([real_complex("1bju")])
    backbone = ComplexGraphNetwork(config)
    lig, rec = batch["ligand"], batch["receptor"]
    counts = []
    for s in (0.0, 1.0, 3.0):
        graph = backbone.build_graph(batch, lig.pos, rec.pos, lig.batch, rec.batch,
                                     config.cross_cutoff(torch.tensor([s])))
        lengths = (lig.pos[graph.cross_edges[0]] - rec.pos[graph.cross_edges[1]]).norm(dim=-1)
        assert lengths.max() < config.cross_cutoff(torch.tensor(s))
        counts.append(graph.cross_edges.shape[1])
    assert counts[0] < counts[1] < counts[2]
    # Ligand graph: every bond once per direction, plus non-bonded pairs within the radius.
    n_bond_edges = batch["ligand", "bond", "ligand"].edge_index.shape[1]
    assert (graph.lig_bond_attr[:n_bond_edges] >= 0).all() and (graph.lig_bond_attr[n_bond_edges:] == -1).all()
    keys = graph.lig_edges[0] * lig.num_nodes + graph.lig_edges[1]
    assert keys.unique().numel() == keys.numel()


def test_score_normalisers_set_the_output_scale():
    """rot / tor scores scale with sqrt(E|s|^2(sigma)); defaults are the small-sigma limits 3/s^2, 1/s^2."""
    torch.manual_seed(0)
    batch = two_complexes(40)
    sigmas = sigmas_for(2)
    model = ScoreModel(TINY).eval()
    picks = one_pick_per_graph(batch, torch.Generator().manual_seed(8))
    tor_values = torch.tensor([2.0, 9.0])
    with torch.no_grad():
        default = model(batch, sigmas, picks)
        custom = model(batch, sigmas, picks, rot_norm_sq=lambda s: 4 * 3.0 / s ** 2, tor_norm_sq=tor_values)
    torch.testing.assert_close(custom["rot_score"], 2 * default["rot_score"])
    torch.testing.assert_close(custom["tr_score"], default["tr_score"])
    bond_graph = batch["ligand"].batch[batch["ligand", "rot", "ligand"].edge_index[0]]
    expected = default["tor_score"] * (tor_values[bond_graph] * sigmas["tor"][bond_graph] ** 2).sqrt()
    torch.testing.assert_close(custom["tor_score"], expected)


def test_checkpoint_round_trip_reproduces_the_networks(tmp_path):
    """Config (as a dict) + state dicts through disco_core's weights-only checkpoint rebuild equal networks."""
    from disco_core.checkpoint import load_checkpoint, save_checkpoint
    from disco_core.config import config_from_dict, config_to_dict

    torch.manual_seed(0)
    batch = two_complexes(40)
    sigmas = sigmas_for(2)
    score, prior = ScoreModel(TINY).eval(), PointerPrior(TINY).eval()
    save_checkpoint(tmp_path / "docking.pt", config_to_dict(TINY),
                    {"score": score.state_dict(), "prior": prior.state_dict()})
    config_dict, state = load_checkpoint(tmp_path / "docking.pt")
    config = config_from_dict(ScoreModelConfig, config_dict)
    assert config == TINY
    score_again, prior_again = ScoreModel(config).eval(), PointerPrior(config).eval()
    score_again.load_state_dict(state["score"])
    prior_again.load_state_dict(state["prior"])
    picks = one_pick_per_graph(batch, torch.Generator().manual_seed(9))
    with torch.no_grad():
        for key, value in score(batch, sigmas, picks).items():
            torch.testing.assert_close(score_again(batch, sigmas, picks)[key], value)
        torch.testing.assert_close(prior_again(batch, picks[:, :1], 1), prior(batch, picks[:, :1], 1))


def test_pointer_prior_serves_the_core_sampling_loop():
    """PointerPrior implements disco_core.prior's `next_logits` protocol: the core loop's pointer branch picks one
    node per graph and latent, and its pick frequencies at T = 1 follow softmax(next_logits) over the nodes."""
    from disco_core.prior import sample_autoregressive

    torch.manual_seed(0)
    batch = two_complexes(40)
    index = complex_node_graph_index(batch)
    prior = PointerPrior(TINY).eval()
    with torch.no_grad():
        first = prior.next_logits(batch, None)
        picks = sample_autoregressive(prior, batch, 2, generator=torch.Generator().manual_seed(3),
                                      segments=(index, 2))
        torch.testing.assert_close(first, prior(batch, torch.zeros(index.shape[0], 0), 0))
        torch.testing.assert_close(prior.next_logits(batch, picks[:, :1]), prior(batch, picks[:, :1], 1))
    assert picks.shape == (index.shape[0], 2) and picks.dtype == torch.float32
    assert set(picks.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(segment_sum(picks, index, 2), torch.ones(2, 2))
    assert torch.equal(sample_pointer_latents(prior, batch, 2, 1.0, torch.Generator().manual_seed(3)), picks)

    # One small complex; the head's output layers are scaled up so that the pick distribution is far from uniform.
    single = Batch.from_data_list([real_complex("1pxo", 6)])
    num_nodes = complex_node_graph_index(single).shape[0]
    with torch.no_grad():
        for layer in (prior.head.lig_mlp[-1], prior.head.rec_mlp[-1]):
            layer.weight.mul_(40.0)
        first = prior.next_logits(single, None)
        second = torch.stack([prior.next_logits(single, torch.eye(num_nodes)[:, a:a + 1])
                              for a in range(num_nodes)])   # row a: logits of z_1 given z_0 = a
    p_first = first.softmax(0)
    assert p_first.max() > 3 / num_nodes, "the test needs a distribution far from uniform"

    draws = 4000

    class Copies:   # `draws` independent copies of the complex, each with the PointerPrior's logits
        def next_logits(self, condition, previous):
            if previous is None:
                return first.repeat(draws)
            assert previous.shape == (draws * num_nodes, 1) and previous.dtype == torch.float32
            return second[previous[:, 0].view(draws, num_nodes).argmax(1)].flatten()

    copy_index = torch.arange(draws).repeat_interleave(num_nodes)
    z = sample_autoregressive(Copies(), None, 2, generator=torch.Generator().manual_seed(5),
                              segments=(copy_index, draws))
    assert torch.equal(segment_sum(z, copy_index, draws), torch.ones(draws, 2))
    frequencies = z.view(draws, num_nodes, 2).mean(0).T
    for frequency, p in ((frequencies[0], p_first), (frequencies[1], p_first @ second.softmax(1))):
        bound = 4 * (p * (1 - p) / draws).sqrt() + 1 / draws
        assert ((frequency - p).abs() <= bound).all(), (frequency, p)
