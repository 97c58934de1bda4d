"""Docking a user's ligands into a user's protein with trained models: the engine behind `disco dock`
and `disco bench dock`.

    receptor   parsed once per protein file and shared by all its ligands
    ligand     SMILES / SDF / MOL2 / RDKit Mol -> graph, rotatable bonds, an RDKit conformer (seeded)
    sites      the given pocket (docking.inference.given_sites), or candidate sites for blind docking
               (docking.inference.site_search; the first `blind_sites` docked, up to LISTED_SITES listed in
               the result's `candidate_sites`; a protein without a pocket is a NoCavityError)
    poses      `samples` poses per site, all ligands and sites in one batch through the one sampler
               (docking.model.complex_sampling; physics-guided: docking.inference.guided_docking)
    ranking    confidence logit -> calibrated P(RMSD < 2 A) (docking.confidence.calibration), best first; or the
               minimised energy; or the learned pose scorer's calibrated P(RMSD < 2 A) of every pose of all
               sites (docking.scoring.pose_scorer), which a model folder without one replaces by the energy
               with one warning

The same seed gives the same poses for the same input, whatever else is in the batch, up to float32 rounding
(the score model's sums round differently with the batch size: a few 1e-4 A; docking.runs.shards keeps
every ligand's batch across shards, ranks and resumed runs, which then agree to the last digit).
"""

from __future__ import annotations

import logging
import time
import weakref
from collections import OrderedDict
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterator

import torch
from rdkit import Chem
from rdkit.Geometry import Point3D

from data_prep.featurize import FeaturizeOptions, featurize_ligand
from data_prep.ligand import LigandInput
from data_prep.receptor import Receptor, load_receptor
from data_prep.torsions import rotatable_bonds
from disco_core.device import resolve_device
from disco_core.errors import InputError
from docking.physics.interaction_energy import InteractionEnergy, vina_form_score
from docking.physics.site_energies import SiteEnergies
from docking.physics.guidance import PhysicsGuidance
from docking.inference.site_search import CandidateSite, blind_site_table
from docking.inference.given_sites import Pocket
from docking.inference.guided_docking import dock_guided_complexes
from docking.model.complex_sampling import Docking, docking_input, sampler_settings
from docking.inference.model_folder import load_model_folder
from docking.inference.ranking import pose_order
from docking.request.ligand_stream import as_ligand_input
from docking.request.presets import ENERGY_RANKINGS

log = logging.getLogger(__name__)

# The stages a DockingPipeline times inside `recorded_stage_seconds`: loading the model folder, parsing a receptor,
# the blind site search, featurising the ligands, the physics' receptor grid maps and atom sets at the sites, and
# the sampling with its minimisation and refinement (the ranking after it is not timed: it is cheap).
STAGES = ("model_load", "receptor", "sites", "ligand", "maps", "docking")
_stage_seconds: ContextVar[dict[str, float] | None] = ContextVar("stage_seconds", default=None)


@contextmanager
def recorded_stage_seconds() -> Iterator[dict[str, float]]:
    """Inside the block, every DockingPipeline adds the wall seconds of its STAGES to the dict this yields (summed
    over calls, a stage that did not run absent), so that a benchmark splits a run's time where the work is done
    rather than guessing it from outside (`disco bench speed --size-sweep`). Outside such a block nothing is kept."""
    record: dict[str, float] = {}
    token = _stage_seconds.set(record)
    try:
        yield record
    finally:
        _stage_seconds.reset(token)


@contextmanager
def _timed(stage: str) -> Iterator[None]:
    """Adds the block's wall seconds to `stage` of the active record (see recorded_stage_seconds), if any."""
    record = _stage_seconds.get()
    start = time.perf_counter()
    try:
        yield
    finally:
        if record is not None:
            record[stage] = record.get(stage, 0.0) + time.perf_counter() - start


@dataclass
class DockOptions:
    model: str | Path | None = None      # a model folder (or training run); None: the bundled default
    samples: int = 10                    # poses per ligand (per site when blind)
    steps: int = 20                      # reverse-diffusion steps
    seed: int = 0
    device: str = "auto"
    guidance_weight: float = 0.0         # classifier-free guidance on the pointer latents
    prior_temperature: float = 1.0
    blind_sites: int = 4                 # candidate sites searched when no pocket is given
    max_residues: int = 10_000           # refuse larger proteins (one clear error instead of running out of memory)
    physics: PhysicsGuidance | None = None   # steer sampling with the interaction energy (docking.physics.guidance)
    rank_by: str = "confidence"          # order (and, blind, choice) of the poses of all sites: or "energy" /
                                         # "intermolecular" (physics), or "scorer" (the model folder's pose scorer)
    energy: str = "pairwise"             # the physics' energy: the pairwise sum, "grid" (docking.physics.grid_maps),
                                         # or "grid+pairwise" (the search on grids, the last minimisation and
                                         # the ranking in the pairwise sum)
    latents: str = "prior"               # ablation "null": the score model's null latent instead of the prior's picks
    learned_score: bool = True           # ablation False: physics only (the learned score set to 0, same search)


@dataclass
class _Candidate:
    """One sampled (and minimised) pose of a ligand at one site, before the ranking."""
    positions: torch.Tensor
    picks: tuple[int, ...]
    sample_index: int
    site: str
    energy: float                        # minimised interaction energy (NaN unguided)
    intermolecular: float                # its receptor-ligand part


@dataclass
class DockResult:
    name: str
    poses: list[Chem.Mol]                # ranked best first; heavy atoms in the input's atom order
    confidences: list[float]             # calibrated P(RMSD < 2 A), NaN without a confidence model
    picks: list[tuple[int, ...]]         # pointer-latent picks per pose (index into [ligand atoms; residues])
    samples: list[int]                   # sample index of each pose (before ranking)
    sites: list[str]                     # the pocket / candidate site each pose was docked at
    seconds: float
    extras: dict[str, list] = field(default_factory=dict)   # per-pose values by name, one per pose, in rank order
                                                             # (docking.pose_record.PoseRecord.values)
    candidate_sites: list[CandidateSite] = field(default_factory=list)   # blind: every listed site, best first
                                                                         # (a pose's `sites` entry is its label)

    def __post_init__(self) -> None:
        for key, values in self.extras.items():
            if not isinstance(values, list) or len(values) != len(self.poses):
                raise ValueError(f"{self.name}: extra {key!r} is not one value per pose ({len(self.poses)} poses)")


def pose_molecule(mol: Chem.Mol, positions: torch.Tensor) -> Chem.Mol:
    """A copy of `mol` whose only conformer holds `positions` (N, 3)."""
    posed = Chem.Mol(mol)
    posed.RemoveAllConformers()
    conformer = Chem.Conformer(mol.GetNumAtoms())
    for i, (x, y, z) in enumerate(positions.double().tolist()):
        conformer.SetAtomPosition(i, Point3D(x, y, z))
    conformer.Set3D(True)
    posed.AddConformer(conformer, assignId=True)
    return posed


class DockingPipeline:
    """Models loaded once; receptors cached (the last few proteins); one `dock` call per ligand."""

    def __init__(self, options: DockOptions | None = None, receptor_cache_size: int = 4):
        self.options = options or DockOptions()
        self.device = resolve_device(self.options.device)
        with _timed("model_load"):
            folder = load_model_folder(self.options.model, self.device)
        self.models, self.calibration, self.pose_confidence = folder.models, folder.calibration, folder.pose_confidence
        self.pose_scorer = folder.pose_scorer
        if self.options.rank_by == "scorer" and self.pose_scorer is None:
            log.warning("%s: no pose scorer in the model folder; the poses are ranked by the interaction energy",
                        folder.path)
        self._receptors: OrderedDict[str, Receptor] = OrderedDict()
        self._cache_size = receptor_cache_size
        self._blind_sites: weakref.WeakKeyDictionary[Receptor, list[CandidateSite]] = weakref.WeakKeyDictionary()
        # the physics' energies at each site, built once per site and ligand size class (docking.physics.site_energies)
        self.energies = SiteEnergies(self.options.energy, 3 * float(self.models.schedule.translation.sigma_max),
                                     4 * receptor_cache_size)

    def receptor(self, protein_path: str | Path) -> Receptor:
        """The protein file parsed once (residue graph features and heavy atoms), cached by its resolved path."""
        key = str(Path(protein_path).resolve())
        if key not in self._receptors:
            with _timed("receptor"):
                self._receptors[key] = load_receptor(protein_path, self.options.max_residues)
            while len(self._receptors) > self._cache_size:
                self._receptors.popitem(last=False)
        self._receptors.move_to_end(key)
        return self._receptors[key]

    def sites(self, receptor: Receptor, pocket: Pocket | None) -> list[Pocket | None]:
        """The given pocket; else the docked candidate sites (a pocket-trained model) or None (whole receptor).
        NoCavityError (an InputError naming the protein) when a blind run's protein has no pocket."""
        if pocket is not None:
            return [pocket]
        if self.models.pocket_radius is None:
            return [None]
        return [Pocket(site.center, None, site.label) for site in self.candidate_sites(receptor) if site.docked]

    def candidate_sites(self, receptor: Receptor) -> list[CandidateSite]:
        """A blind run's candidate sites of the receptor (found once per receptor): the `blind_sites` docked
        ones first, then the next ones up to LISTED_SITES."""
        if receptor not in self._blind_sites:
            with _timed("sites"):
                self._blind_sites[receptor] = blind_site_table(receptor.path, receptor.heavy_atoms.pos,
                                                               self.options.blind_sites)
        return list(self._blind_sites[receptor])

    def dock(self, protein_path: str | Path, ligand: str | Path | Chem.Mol | LigandInput, name: str = "ligand",
             pocket_center: tuple[float, float, float] | None = None, pocket: Pocket | None = None) -> DockResult:
        """Dock one ligand; bad input raises InputError."""
        if pocket is None and pocket_center is not None:
            pocket = Pocket(tuple(float(v) for v in pocket_center))
        result = self.dock_many(protein_path, [(name, ligand)], pocket)[0]
        if isinstance(result, Exception):
            raise result
        return result

    def featurize(self, receptor: Receptor, name: str, ligand) -> tuple[dict, Chem.Mol]:
        """The model-ready item of one ligand against a loaded receptor, as docking builds it (public so that
        the pose-confidence fit re-featurises bench poses the same way)."""
        ligand_input = as_ligand_input(ligand, name)
        item = featurize_ligand(ligand_input, FeaturizeOptions(seed=self.options.seed), use_pose=False, name=name)
        item.update({key: value for key, value in receptor.features.items() if key.startswith("rec_")})
        item["name"] = name
        return item, ligand_input.mol

    @torch.no_grad()
    def dock_many(self, protein_path: str | Path, ligands: list[tuple[str, object]],
                  pocket: Pocket | None = None) -> list[DockResult | InputError]:
        """Dock several ligands into one protein through the score model together (one batch of
        ligands x sites x samples). A ligand that cannot be prepared comes back as its InputError; the
        others are unaffected, and each one's poses are those it would get alone (its own seeded stream).
        Seconds are the batch's wall time shared evenly among its ligands."""
        start = time.perf_counter()
        receptor = self.receptor(protein_path)
        sites = self.sites(receptor, pocket)
        listed = self.candidate_sites(receptor) if pocket is None and sites != [None] else []
        prepared: list[tuple[str, Chem.Mol] | InputError] = []
        dockings: list[Docking] = []
        energies: list[InteractionEnergy | None] = []
        # grid+pairwise: beside the search's grid energy, the exact pairwise sum that ranks the poses
        ranking_energies: list[InteractionEnergy] | None = (
            [] if self.options.physics is not None and self.options.energy == "grid+pairwise" else None)
        for name, ligand in ligands:
            try:
                with _timed("ligand"):
                    item, mol = self.featurize(receptor, name, ligand)
                    inputs = [docking_input(self.models, item, self._generator(site_index),
                                            None if site is None else torch.tensor(site.center),
                                            None if site is None else site.radius)
                              for site_index, site in enumerate(sites)]
            except InputError as exc:
                prepared.append(exc)
                continue
            with _timed("maps"):
                energies += [None if self.options.physics is None else
                             self.energies.energy(receptor, d.center, mol, item["lig_pos_conformer"]) for d in inputs]
                if ranking_energies is not None:
                    ranking_energies += [self.energies.energy(receptor, d.center, mol, item["lig_pos_conformer"],
                                                              "pairwise") for d in inputs]
            prepared.append((name, mol))
            dockings += inputs
        with _timed("docking"):
            docked = (dock_guided_complexes(self.models, dockings, energies, self.options.physics,
                                            self.options.samples, sampler_settings(None, self.options.steps),
                                            self.options.guidance_weight, self.options.prior_temperature,
                                            self.options.latents == "null",
                                            1.0 if self.options.learned_score else 0.0, ranking_energies)
                      if dockings else [])
        seconds = (time.perf_counter() - start) / max(1, len(ligands))
        results: list[DockResult | InputError] = []
        position = 0
        for entry in prepared:
            if isinstance(entry, InputError):
                results.append(entry)
                continue
            name, mol = entry
            per_site = docked[position:position + len(sites)]
            position += len(sites)
            results.append(replace(self._rank(name, mol, per_site, sites, seconds, receptor), candidate_sites=listed))
        return results

    def _generator(self, site_index: int) -> torch.Generator:
        """A CPU generator whatever the device: every draw is made on it and moved (docking.model.pose_noise), so
        a seed gives the same noise on a GPU as on the CPU."""
        return torch.Generator().manual_seed(self.options.seed * 1_000_003 + site_index)

    def _rank(self, name: str, mol: Chem.Mol, per_site: list, sites: list[Pocket | None], seconds: float,
              receptor: Receptor) -> DockResult:
        """All poses of one ligand (every site), ranked by calibrated confidence (or, with `rank_by` energy,
        by the minimised interaction energy), the best `samples` kept. With physics guidance every pose also
        carries that energy and its receptor-ligand part, the intermolecular energy (extras), and its
        confidence comes from the model folder's pose confidence (docking.confidence.pose_confidence) when it
        has one. With `rank_by` scorer (and a scorer in the model folder) the confidence of every pose is the
        pose scorer's and orders them."""
        candidates: list[_Candidate] = []
        for site, docked in zip(sites, per_site):
            label = "whole-receptor" if site is None else site.source
            for rank in range(docked.poses.shape[0]):
                energy = float("nan") if docked.energies is None else round(float(docked.energies[rank]), 4)
                inter = float("nan") if docked.intermolecular is None else round(float(docked.intermolecular[rank]), 4)
                candidates.append(_Candidate(docked.poses[rank].cpu(), tuple(docked.picks[rank].tolist()),
                                             int(docked.sample_index[rank]), label, energy, inter))
        guided = any(d.energies is not None for d in per_site)
        if guided and self.pose_confidence is not None:
            probabilities = self.pose_confidence.probabilities(torch.cat([d.features for d in per_site])).tolist()
        else:
            probabilities = self.calibration.probabilities(
                [float(d.confidences[rank]) for d in per_site for rank in range(d.poses.shape[0])])
        values = {}
        if guided:
            rotatable = len(rotatable_bonds(mol)[0])
            values = {"interaction_energy": [c.energy for c in candidates],
                      "intermolecular_energy": [c.intermolecular for c in candidates],
                      "vina_form_score": [round(vina_form_score(c.intermolecular, rotatable), 4) for c in candidates]}
        rank_by = self.options.rank_by if guided and self.options.rank_by in ENERGY_RANKINGS else "confidence"
        if self.options.rank_by == "scorer":
            if self.pose_scorer is not None:
                poses = torch.stack([c.positions for c in candidates]).float()
                probabilities = self.pose_scorer.probabilities(mol, poses, receptor.heavy_atoms).tolist()
            elif guided:
                rank_by = "energy"
        order = pose_order(rank_by, values, probabilities, name=name)[: self.options.samples]
        return DockResult(
            name=name,
            poses=[pose_molecule(mol, candidates[i].positions) for i in order],
            confidences=[probabilities[i] for i in order],
            picks=[candidates[i].picks for i in order],
            samples=[candidates[i].sample_index for i in order],
            sites=[candidates[i].site for i in order],
            seconds=seconds,
            extras={key: [per_pose[i] for i in order] for key, per_pose in values.items()},
        )
