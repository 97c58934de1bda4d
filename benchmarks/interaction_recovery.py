"""Whether a method's top-1 pose makes the protein contacts the crystal ligand makes (`disco bench dock`).

A pose within 2 A can still miss the one hydrogen bond a chemist cares about, and a pose at 3 A can make all
of them; RMSD says neither. Contacts are ProLIF's (docking.contacts.profiler), compared as distinct
(type, residue) pairs, e.g. (HBDonor, ASP189.A), so that which atom of a symmetric group makes the contact
does not matter:

    interaction_recovery   the fraction of the crystal pose's pairs that the top-1 pose has too
                           (None when the crystal pose has none)
    hbonds_recovered       whether the top-1 pose has every crystal hydrogen-bond pair (HBDonor / HBAcceptor)
                           (None when the crystal pose has no hydrogen bond)

The crystal ligand's contacts are computed once per complex (the receptor is protonated once per protein
and shared by all methods)."""

from __future__ import annotations

from pathlib import Path

from rdkit import Chem

from disco_core.errors import InputError
from docking.contacts.profiler import HYDROGEN_BOND_TYPES, InteractionProfiler, interaction_pairs


def interaction_recovery(crystal: list[tuple[str, str]], pose: list[tuple[str, str]]) -> float | None:
    """Share of the crystal's distinct (type, residue) pairs that the pose has; None without crystal pairs."""
    reference = set(crystal)
    return len(reference & set(pose)) / len(reference) if reference else None


def hbonds_recovered(crystal: list[tuple[str, str]], pose: list[tuple[str, str]]) -> bool | None:
    """Whether the pose has every crystal hydrogen-bond pair; None when the crystal has no hydrogen bond."""
    reference = {pair for pair in crystal if pair[0] in HYDROGEN_BOND_TYPES}
    return reference <= set(pose) if reference else None


class TopPoseRecovery:
    """The recovery fields of one method's record: the crystal contacts of a complex are computed on first
    use and reused for every method."""

    def __init__(self, profiler: InteractionProfiler | None = None):
        self.profiler = profiler or InteractionProfiler()
        self._crystal: dict[str, list[tuple[str, str]] | InputError] = {}

    def crystal_pairs(self, complex_id: str, protein_path: str | Path, crystal: Chem.Mol) -> list[tuple[str, str]]:
        if complex_id not in self._crystal:
            self._crystal.clear()            # one complex at a time, as the benchmark runs them
            try:
                contacts = self.profiler.pose_interactions(protein_path, [crystal], f"{complex_id} crystal")[0]
                self._crystal[complex_id] = interaction_pairs(contacts)
            except InputError as exc:
                self._crystal[complex_id] = exc
        pairs = self._crystal[complex_id]
        if isinstance(pairs, InputError):
            raise pairs
        return pairs

    def record(self, complex_id: str, protein_path: str | Path, crystal: Chem.Mol, top_pose: Chem.Mol) -> dict:
        """interaction_recovery, hbonds_recovered and the crystal pair counts of a top-1 pose, or, when ProLIF
        cannot handle the complex, interactions_error (the values then None)."""
        try:
            reference = self.crystal_pairs(complex_id, protein_path, crystal)
            pose = interaction_pairs(self.profiler.pose_interactions(protein_path, [top_pose], complex_id)[0])
        except InputError as exc:
            return {"interaction_recovery": None, "hbonds_recovered": None, "interactions_error": str(exc)}
        return {"interaction_recovery": interaction_recovery(reference, pose),
                "hbonds_recovered": hbonds_recovered(reference, pose),
                "crystal_interactions": len(reference),
                "crystal_hbonds": sum(kind in HYDROGEN_BOND_TYPES for kind, _ in reference),
                "top1_interactions": ";".join(f"{kind}:{residue}" for kind, residue in pose)}
