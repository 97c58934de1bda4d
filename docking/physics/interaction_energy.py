"""A differentiable protein-ligand interaction energy of Vina's functional form, for physics guidance.

Why: the score model of a CPU-budget checkpoint places ligands in the right pocket but rarely with
the right contacts. A smooth empirical energy that knows about steric clashes, hydrophobic contact and
hydrogen bonds can steer the reverse diffusion towards poses that fit (`disco dock --physics-guidance`).

The energy follows the published AutoDock Vina scoring function (Trott & Olson, J. Comput. Chem.
2010): every ligand heavy atom i and receptor heavy atom j closer than 8 A interact through their
surface distance d = r_ij - R_i - R_j (R: X-Score van der Waals radii) with

    gauss1 = exp(-(d / 0.5)^2)           weight -0.0356
    gauss2 = exp(-((d - 3) / 2)^2)       weight -0.00516
    repulsion = d^2 if d < 0             weight  0.840
    hydrophobic: 1 if d < 0.5, 0 if d > 1.5, linear between (both atoms hydrophobic)   weight -0.0351
    hydrogen bond: 1 if d < -0.7, 0 if d > 0, linear between (donor with acceptor)    weight -0.587

Vina cuts the terms off at 8 A, which makes the energy jump when an atom pair crosses the cutoff; here
they fade to zero between 7 and 8 A with a cosine switch instead, so that the gradient is that of the
energy (guidance follows gradients). Ligand atom pairs more than three bonds apart add the same terms
(internal clashes). Atoms are typed as Vina types the molecules meeko prepares (`vina_typing`: carbon
polar when bonded to any heteroatom, N acceptors by meeko's rules, donors N/O with a hydrogen and metals, O
always an acceptor), for receptor residues of any kind, cofactors and metals included. Elements without an X-Score radius
(B, Si, Se, As, ...) fall back to a documented type: radius 1.9 A (carbon's), neither hydrophobic nor
polar, so they take part in sterics only; metals get radius 1.2 A and count as donors. Energies are in Vina's kcal/mol-like
units. Vina's rotatable-bond normalisation of the final score (the intermolecular part divided by
1 + 0.0585 Nrot) is not part of the energy that guides and minimises: it would scale the gradients of ligands
by their size. Every written pose carries it as `vina_form_score` (`vina_form_score` below): energies of ligands
with different numbers of rotatable bonds are on one scale only there, so sort a screen by it, not by
interaction_energy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from rdkit import Chem

from data_prep.protein import HeavyAtoms
from docking.physics.vina_typing import (AMINO_ACIDS, METALS, AtomTypes, amino_acid_types, group_types,
                                         ligand_types)

CUTOFF_A = 8.0
NROT_WEIGHT = 0.0585    # Vina's rotatable-bond normalisation: score = intermolecular / (1 + NROT_WEIGHT * Nrot)
SWITCH_FROM_A = 7.0     # the terms fade smoothly to zero between here and the cutoff
WEIGHTS = {"gauss1": -0.0356, "gauss2": -0.00516, "repulsion": 0.840, "hydrophobic": -0.0351, "hbond": -0.587}
XS_RADIUS = {"C": 1.9, "N": 1.8, "O": 1.7, "S": 2.0, "P": 2.1, "F": 1.5, "Cl": 1.8, "Br": 2.0, "I": 2.2}
METAL_RADIUS = 1.2
COVALENT_BOND_A = 1.9   # receptor atoms closer than this are taken as bonded (typing of carbons and N)
TYPING_MARGIN_A = 4.0   # receptor atoms typed this far beyond the radius, so rings and neighbours are whole


@dataclass
class TypedAtoms:
    """Heavy atoms with what the energy needs to know about them."""

    pos: torch.Tensor          # (M, 3) receptor coordinates; ligands leave it empty (poses come per call)
    radius: torch.Tensor       # (M,) X-Score radius
    hydrophobic: torch.Tensor  # (M,) bool
    donor: torch.Tensor        # (M,) bool
    acceptor: torch.Tensor     # (M,) bool

    def to(self, device: torch.device | str) -> "TypedAtoms":
        return TypedAtoms(*(getattr(self, name).to(device) for name in
                            ("pos", "radius", "hydrophobic", "donor", "acceptor")))

    def select(self, keep: torch.Tensor) -> "TypedAtoms":
        """The atoms where the boolean mask `keep` is true."""
        return TypedAtoms(*(getattr(self, name)[keep] for name in ("pos", "radius", "hydrophobic", "donor", "acceptor")))


def element_symbol(name: str) -> str:
    """A structure file's element name as RDKit spells it ("ZN" -> "Zn")."""
    return name if len(name) == 1 else name[0] + name[1:].lower()


def _radius(element: str) -> float:
    return METAL_RADIUS if element in METALS else XS_RADIUS.get(element, 1.9)


def _typed(elements: list[str], types: AtomTypes, pos: torch.Tensor) -> TypedAtoms:
    return TypedAtoms(pos.float(), torch.tensor([_radius(e) for e in elements], dtype=torch.float32),
                      torch.tensor(types.hydrophobic, dtype=torch.bool), torch.tensor(types.donor, dtype=torch.bool),
                      torch.tensor(types.acceptor, dtype=torch.bool))


def ligand_atoms(mol: Chem.Mol) -> TypedAtoms:
    """Types of a heavy-atom RDKit molecule's atoms, in its atom order (hydrogens implicit), as Vina types the
    molecule meeko prepares from it (`vina_typing.ligand_types`)."""
    if any(a.GetAtomicNum() == 1 for a in mol.GetAtoms()):
        raise ValueError("ligand_atoms expects a molecule without explicit hydrogen atoms")
    return _typed([a.GetSymbol() for a in mol.GetAtoms()], ligand_types(mol), torch.zeros(0, 3))


def ligand_internal_pairs(mol: Chem.Mol) -> torch.Tensor:
    """(P, 2) atom pairs more than three bonds apart: the pairs whose distance torsions can change."""
    hops = torch.as_tensor(Chem.GetDistanceMatrix(mol))
    i, j = torch.triu_indices(len(hops), len(hops), offset=1)
    keep = hops[i, j] > 3
    return torch.stack([i[keep], j[keep]], dim=1)


def receptor_atoms(atoms: HeavyAtoms, center: tuple[float, float, float] | torch.Tensor,
                   radius: float) -> TypedAtoms:
    """The protein's heavy atoms (`data_prep.protein.read_heavy_atoms`, or a Receptor's `heavy_atoms`:
    waters left out, cofactors and metals kept; first model, first alternate location) within `radius`
    of `center`, typed for the energy (`vina_typing`: amino acids by residue chemistry, other groups from
    their bonds; the file's hydrogens where it has them)."""
    center = torch.as_tensor(center, dtype=torch.float64).reshape(3)
    xyz = torch.as_tensor(atoms.pos)
    # type with a margin so that bonded neighbours (and the rings of groups) just outside the sphere are seen
    near = torch.nonzero((xyz - center).norm(dim=1) <= radius + TYPING_MARGIN_A).flatten()
    sub = xyz[near]
    bonded = (torch.cdist(sub, sub) < COVALENT_BOND_A) & ~torch.eye(len(sub), dtype=torch.bool)
    rows = near.tolist()
    elements = [element_symbol(atoms.elements[i]) for i in rows]
    hydrogens = None if atoms.hydrogens is None else [int(atoms.hydrogens[i]) for i in rows]
    neighbours = [torch.nonzero(bonded[k]).flatten().tolist() for k in range(len(rows))]
    types: list[tuple[bool, bool, bool] | None] = []
    for k, i in enumerate(rows):
        residue = atoms.residue_names[i]
        if residue in AMINO_ACIDS:
            types.append(amino_acid_types(residue, atoms.atom_names[i], elements[k],
                                          [elements[m] for m in neighbours[k]],
                                          None if hydrogens is None else hydrogens[k]))
        else:
            types.append(None)
    groups = [k for k, t in enumerate(types) if t is None]
    if groups:   # cofactors, modified residues, metals: typed together from their bonds
        index = {k: g for g, k in enumerate(groups)}
        bonds = [(index[k], index[m]) for k in groups for m in neighbours[k] if m in index and m > k]
        typed_groups = group_types([elements[k] for k in groups], sub[groups].numpy(), bonds,
                                   None if hydrogens is None else [hydrogens[k] for k in groups])
        for g, k in enumerate(groups):
            types[k] = (typed_groups.hydrophobic[g], typed_groups.donor[g], typed_groups.acceptor[g])
    # a group's carbon bonded to a residue's heteroatom (or the reverse) is polar whatever its group says
    for k, t in enumerate(types):
        if elements[k] == "C" and t[0] and any(elements[m] != "C" for m in neighbours[k]):
            types[k] = (False, t[1], t[2])
    columns = AtomTypes(*(list(c) for c in zip(*types))) if types else AtomTypes([], [], [])
    typed = _typed(elements, columns, sub)
    return typed.select((sub - center).norm(dim=1) <= radius)


def pair_energy(distance: torch.Tensor, radius_sum: torch.Tensor, hydrophobic: torch.Tensor,
                 hbond: torch.Tensor, vina_cutoff: bool = False) -> torch.Tensor:
    """The pair's terms, faded to zero between SWITCH_FROM_A and CUTOFF_A; `vina_cutoff`: cut off at CUTOFF_A as
    Vina does instead (not differentiable there: for comparing energies with Vina's, never for guidance)."""
    d = distance - radius_sum
    energy = (WEIGHTS["gauss1"] * torch.exp(-(d / 0.5) ** 2)
              + WEIGHTS["gauss2"] * torch.exp(-((d - 3.0) / 2.0) ** 2)
              + WEIGHTS["repulsion"] * torch.where(d < 0, d * d, torch.zeros_like(d))
              + WEIGHTS["hydrophobic"] * hydrophobic * (1.5 - d).clamp(0.0, 1.0)
              + WEIGHTS["hbond"] * hbond * (-d / 0.7).clamp(0.0, 1.0))
    if vina_cutoff:
        return energy * (distance < CUTOFF_A)
    fade = (distance - SWITCH_FROM_A).clamp(0.0, CUTOFF_A - SWITCH_FROM_A) / (CUTOFF_A - SWITCH_FROM_A)
    return energy * 0.5 * (1.0 + torch.cos(torch.pi * fade))


TERMS = tuple(WEIGHTS)


def pair_terms(distance: torch.Tensor, radius_sum: torch.Tensor, hydrophobic: torch.Tensor,
               hbond: torch.Tensor) -> torch.Tensor:
    """pair_energy's five weighted terms (..., 5), in the order of TERMS, faded as it fades them: what a learned
    scorer reads of the energy (their sum is pair_energy)."""
    d = distance - radius_sum
    terms = torch.stack([WEIGHTS["gauss1"] * torch.exp(-(d / 0.5) ** 2),
                         WEIGHTS["gauss2"] * torch.exp(-((d - 3.0) / 2.0) ** 2),
                         WEIGHTS["repulsion"] * d.clamp(max=0.0) ** 2,
                         WEIGHTS["hydrophobic"] * hydrophobic * (1.5 - d).clamp(0.0, 1.0),
                         WEIGHTS["hbond"] * hbond * (-d / 0.7).clamp(0.0, 1.0)], dim=-1)
    fade = (distance - SWITCH_FROM_A).clamp(0.0, CUTOFF_A - SWITCH_FROM_A) / (CUTOFF_A - SWITCH_FROM_A)
    return terms * (0.5 * (1.0 + torch.cos(torch.pi * fade)))[..., None]


def pair_energy_and_slope(distance: torch.Tensor, radius_sum: torch.Tensor, hydrophobic: torch.Tensor,
                          hbond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """pair_energy and its derivative in the distance, term by term (the reference for both is pair_energy
    under autograd: tests/docking/test_interaction_energy.py)."""
    d = distance - radius_sum
    gauss1 = torch.exp(-(d / 0.5) ** 2)
    gauss2 = torch.exp(-((d - 3.0) / 2.0) ** 2)
    overlap = d.clamp(max=0.0)
    hydrophobic_on = ((d > 0.5) & (d < 1.5)).to(d.dtype)
    hbond_on = ((d > -0.7) & (d < 0.0)).to(d.dtype)
    energy = (WEIGHTS["gauss1"] * gauss1 + WEIGHTS["gauss2"] * gauss2 + WEIGHTS["repulsion"] * overlap * overlap
              + WEIGHTS["hydrophobic"] * hydrophobic * (1.5 - d).clamp(0.0, 1.0)
              + WEIGHTS["hbond"] * hbond * (-d / 0.7).clamp(0.0, 1.0))
    slope = (WEIGHTS["gauss1"] * gauss1 * (-8.0 * d) + WEIGHTS["gauss2"] * gauss2 * (-(d - 3.0) / 2.0)
             + WEIGHTS["repulsion"] * 2.0 * overlap - WEIGHTS["hydrophobic"] * hydrophobic * hydrophobic_on
             - WEIGHTS["hbond"] * hbond * hbond_on / 0.7)
    width = CUTOFF_A - SWITCH_FROM_A
    fade = (distance - SWITCH_FROM_A).clamp(0.0, width) / width
    switch = 0.5 * (1.0 + torch.cos(torch.pi * fade))
    fading = ((distance > SWITCH_FROM_A) & (distance < CUTOFF_A)).to(d.dtype)
    switch_slope = -0.5 * torch.pi / width * torch.sin(torch.pi * fade) * fading
    return energy * switch, slope * switch + energy * switch_slope


class _PairSum(torch.autograd.Function):
    """sum over pairs of pair_energy(|v|) for separation vectors v (B, ..., 3) -> (B,), with the gradient
    slope * v / |v| computed in the same pass: the internal energy is evaluated at every minimisation step,
    and autograd through its dozen elementwise terms costs more than the terms themselves."""

    @staticmethod
    def forward(ctx, separation: torch.Tensor, radius_sum: torch.Tensor, hydrophobic: torch.Tensor,
                hbond: torch.Tensor) -> torch.Tensor:
        distance = separation.norm(dim=-1)
        energy, slope = pair_energy_and_slope(distance, radius_sum, hydrophobic, hbond)
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward((slope / distance.clamp_min(1e-6))[..., None] * separation)
        return energy.flatten(1).sum(-1)

    @staticmethod
    def backward(ctx, grad_energy: torch.Tensor):
        (gradient,) = ctx.saved_tensors
        return grad_energy.reshape(-1, *[1] * (gradient.dim() - 1)) * gradient, None, None, None


class InteractionEnergy:
    """E(pose) = receptor-ligand terms + internal ligand terms, for a batch of poses (B, N, 3) -> (B,)."""

    def __init__(self, ligand: TypedAtoms, receptor: TypedAtoms, internal_pairs: torch.Tensor):
        self.ligand, self.receptor, self.internal_pairs = ligand, receptor, internal_pairs
        self.cross_radius = ligand.radius[:, None] + receptor.radius[None, :]
        self.cross_hydrophobic = (ligand.hydrophobic[:, None] & receptor.hydrophobic[None, :]).float()
        self.cross_hbond = ((ligand.donor[:, None] & receptor.acceptor[None, :])
                            | (ligand.acceptor[:, None] & receptor.donor[None, :])).float()
        i, j = internal_pairs.unbind(1) if len(internal_pairs) else (torch.zeros(0, dtype=torch.long),) * 2
        self.pair_i, self.pair_j = i, j
        self.internal_radius = ligand.radius[i] + ligand.radius[j]
        self.internal_hydrophobic = (ligand.hydrophobic[i] & ligand.hydrophobic[j]).float()
        self.internal_hbond = ((ligand.donor[i] & ligand.acceptor[j]) | (ligand.acceptor[i] & ligand.donor[j])).float()

    @classmethod
    def for_ligand(cls, mol: Chem.Mol, receptor: TypedAtoms) -> "InteractionEnergy":
        return cls(ligand_atoms(mol), receptor, ligand_internal_pairs(mol))

    def to(self, device: torch.device | str) -> "InteractionEnergy":
        return InteractionEnergy(self.ligand.to(device), self.receptor.to(device), self.internal_pairs.to(device))

    def near(self, center: torch.Tensor, radius: float) -> "InteractionEnergy":
        """The same energy with only the receptor atoms within `radius` of `center`: exact for poses whose
        atoms all stay within radius - 8 A (the cutoff) of the centre, and cheaper the smaller the sphere."""
        keep = (self.receptor.pos - center.to(self.receptor.pos)).norm(dim=-1) <= radius
        return InteractionEnergy(self.ligand, self.receptor.select(keep), self.internal_pairs)

    def intermolecular(self, pos: torch.Tensor, vina_cutoff: bool = False) -> torch.Tensor:
        """The receptor-ligand terms of poses (B, N, 3) -> (B,); `vina_cutoff`: Vina's hard 8 A cutoff in place of
        the fade (the sum Vina's score_only reports as the ligand's intermolecular energy, given the same types)."""
        distance = torch.cdist(pos.float(), self.receptor.pos[None].expand(pos.shape[0], -1, -1))
        return pair_energy(distance, self.cross_radius, self.cross_hydrophobic, self.cross_hbond,
                           vina_cutoff).sum((-1, -2))

    def intermolecular_terms(self, pos: torch.Tensor) -> torch.Tensor:
        """The receptor-ligand sums of each weighted term (pair_terms) of poses (B, N, 3) -> (B, 5), in the order of
        TERMS; they add up to `intermolecular`."""
        distance = torch.cdist(pos.float(), self.receptor.pos[None].expand(pos.shape[0], -1, -1))
        return pair_terms(distance, self.cross_radius, self.cross_hydrophobic, self.cross_hbond).sum((1, 2))

    def internal(self, pos: torch.Tensor) -> torch.Tensor:
        if len(self.pair_i) == 0:
            return pos.new_zeros(pos.shape[0])
        # index_select, not pos[:, i]: its gradient is an index_add, not an accumulating index_put (slower)
        separation = (pos.index_select(1, self.pair_i) - pos.index_select(1, self.pair_j)).float()
        return _PairSum.apply(separation, self.internal_radius, self.internal_hydrophobic, self.internal_hbond)

    def __call__(self, pos: torch.Tensor) -> torch.Tensor:
        return self.intermolecular(pos) + self.internal(pos)


def vina_form_score(intermolecular: float, rotatable_bonds: int) -> float:
    """Vina's final-score convention on our intermolecular energy: divided by 1 + 0.0585 Nrot, so that ligands with
    different numbers of rotatable bonds are on one scale (a screen sorted by it is not biased by ligand size the
    way the raw energy is). Nrot here is docking's rotatable bonds (data_prep.torsions), which can differ from the
    torsion count of Vina's PDBQT by a bond or two (amides, terminal groups)."""
    return intermolecular / (1.0 + NROT_WEIGHT * rotatable_bonds)


def generalized_forces(energy: InteractionEnergy, pos: torch.Tensor, rot_bonds: torch.Tensor,
                       rot_masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Minus the energy's gradient in the pose coordinates of docking.geometry.pose, from the atomic forces:

        translation  f = sum_i F_i                              (B, 3)
        rotation     tau = sum_i (x_i - c) x F_i                (B, 3) world-frame rotation vector
        torsion r    tau_r = a_r . sum_{i moving} (x_i - x_v) x F_i   (B, R), a_r the unit axis u -> v

    (the torsion part ignores the small rigid realignment that follows a torsion change). Also returns
    the energies (B,)."""
    with torch.enable_grad():
        x = pos.detach().float().requires_grad_(True)
        values = energy(x)
        (gradient,) = torch.autograd.grad(values.sum(), x)
    force = -gradient.to(pos.dtype)
    f_tr = force.sum(1)
    torque = torch.cross(pos - pos.mean(1, keepdim=True), force, dim=-1).sum(1)
    if rot_bonds.shape[0] == 0:
        return f_tr, torque, pos.new_zeros(pos.shape[0], 0), values.detach()
    u, v = rot_bonds[:, 0], rot_bonds[:, 1]
    axis = pos[:, v] - pos[:, u]
    axis = axis / axis.norm(dim=-1, keepdim=True)                                       # (B, R, 3)
    arm = pos[:, None, :, :] - pos[:, v][:, :, None, :]                                 # (B, R, N, 3)
    moments = torch.cross(arm, force[:, None].expand_as(arm), dim=-1) * rot_masks[None, :, :, None]
    f_tor = (moments.sum(2) * axis).sum(-1)
    return f_tr, torque, f_tor, values.detach()


def clipped_guidance(force: torch.Tensor, weight: float, sigma: float, dims: int) -> torch.Tensor:
    """weight * force as a score, its norm per pose capped at sqrt(dims) / sigma: no larger than the
    typical score of the noise at this level, so that a clash cannot fling a pose across the pocket."""
    score = weight * force
    cap = np.sqrt(max(dims, 1)) / sigma
    norm = score.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    return score * (cap / norm).clamp(max=1.0)
