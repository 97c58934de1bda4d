"""Receptor preparation for AutoDock Vina: protein PDB (or mmCIF) -> rigid PDBQT with meeko's polymer
templates, prepared once per protein file and cached in a work folder (and in memory, under a lock).

Residues meeko has no template for (cofactors, unusual HET groups) would make meeko download a
chemical-component file, so they are dropped up front and listed; template metals (Zn, Mg, Ca, Mn, Fe,
Cu) stay. If the file's own hydrogens confuse meeko's protonation-state matching (typically a
histidine), the hydrogens are removed and meeko adds its own. Apart from `vina.py` (boxes, ligands,
docking and scoring) because cleaning a PDB for meeko is a job of its own.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from rdkit.rdBase import BlockLogs

from data_prep.protein import WATER_NAMES, is_hydrogen_record
from disco_core.errors import InputError
from disco_core.io import atomic_write_text


@dataclass
class PreparedReceptor:
    """A receptor PDBQT on disk, with what preparation had to leave out."""

    protein_path: str
    pdbqt_path: Path
    dropped_residues: list[str] = field(default_factory=list)   # "A:401 HEM" for untemplated groups
    hydrogens_replaced: bool = False


_RECEPTOR_CACHE: dict[tuple[str, str], PreparedReceptor] = {}
_RECEPTOR_LOCK = threading.Lock()


def _protein_pdb_text(protein_path: Path) -> str:
    suffixes = "".join(protein_path.suffixes).lower()
    if suffixes.endswith((".cif", ".mmcif", ".cif.gz", ".pdb.gz")):
        import gemmi

        structure = gemmi.read_structure(str(protein_path))
        structure.setup_entities()
        structure.remove_waters()
        return structure.make_pdb_string()
    return protein_path.read_text(errors="replace")


def _known_residue_names() -> set[str]:
    templates = _templates()
    return set(templates.residue_templates) | set(templates.ambiguous)


_TEMPLATES = None


def _templates():
    global _TEMPLATES
    if _TEMPLATES is None:
        from meeko import ResidueChemTemplates

        _TEMPLATES = ResidueChemTemplates.create_from_defaults()
    return _TEMPLATES


def _with_element(line: str) -> str:
    """Fill an empty element column (columns 77-78) from the atom name, which meeko needs."""
    if line[76:78].strip():
        return line
    name, resname = line[12:16].strip().upper(), line[17:20].strip().upper()
    if line.startswith("HETATM") and name == resname:        # ions: ZN, MG, CA, ...
        element = resname
    else:
        element = name.lstrip("0123456789")[:1] or "C"
    return line.ljust(80)[:76] + element.rjust(2) + line.ljust(80)[78:80]


def _clean_pdb(text: str, strip_hydrogens: bool) -> tuple[str, list[str]]:
    """Keep the atoms of templated residues (no waters), with element columns filled in; return the
    text and the dropped residues."""
    known = _known_residue_names() - WATER_NAMES
    kept, dropped = [], []
    for line in text.splitlines():
        record = line[:6].strip()
        if record in ("CONECT", "ANISOU", "MASTER"):
            continue
        if record in ("ATOM", "HETATM"):
            resname = line[17:20].strip()
            if resname not in known:
                if resname not in WATER_NAMES:
                    label = f"{line[21:22].strip()}:{line[22:27].strip()} {resname}"
                    if label not in dropped:
                        dropped.append(label)
                continue
            if strip_hydrogens and is_hydrogen_record(line):
                continue
            line = _with_element(line)
        if record == "ENDMDL":
            break  # first model only
        kept.append(line)
    return "\n".join(kept) + "\n", dropped


def _main_altloc(pdb_text: str) -> str | None:
    """The most common alternate-location letter, used for every residue that has several."""
    letters = Counter(line[16] for line in pdb_text.splitlines()
                      if line.startswith(("ATOM", "HETATM")) and line[16:17].strip())
    return letters.most_common(1)[0][0] if letters else None


_UNBUILDABLE = re.compile(r"unable to build rdkit mol for residue \S+ corresponding to key (\S*:\S+)")
MAX_DELETED_RESIDUES = 20


def _without_residue(pdb_text: str, key: str) -> str:
    """The PDB text without the atoms of residue `key` ("chain:number[icode]", meeko's notation)."""
    chain, number = key.split(":", 1)
    return "\n".join(line for line in pdb_text.splitlines()
                     if not (line.startswith(("ATOM", "HETATM")) and line[21:22].strip() == chain
                             and line[22:27].strip() == number)) + "\n"


def _polymer_pdbqt(pdb_text: str) -> tuple[str, list[str]]:
    """meeko's rigid receptor PDBQT; residues whose atoms meeko cannot turn into a molecule (broken
    side-chain geometry) are deleted one at a time and returned, up to MAX_DELETED_RESIDUES."""
    from meeko import MoleculePreparation, Polymer, PDBQTWriterLegacy

    preparation = MoleculePreparation.from_config({"compute_charges": False})
    deleted: list[str] = []
    while True:
        try:
            polymer = Polymer.from_pdb_string(pdb_text, _templates(), preparation, allow_bad_res=True,
                                              default_altloc=_main_altloc(pdb_text))
            break
        except Exception as exc:
            match = _UNBUILDABLE.search(str(exc))
            if match is None or match.group(1) in deleted or len(deleted) >= MAX_DELETED_RESIDUES:
                raise
            deleted.append(match.group(1))
            pdb_text = _without_residue(pdb_text, match.group(1))
    rigid, _flexible = PDBQTWriterLegacy.write_from_polymer(polymer)
    if not rigid.strip():
        raise ValueError("meeko wrote an empty receptor")
    return rigid, [f"{key} (unbuildable)" for key in deleted]


def first_line(exc: Exception) -> str:
    """The gist of an exception for a message: its last non-empty line, at most 200 characters."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return (lines[-1] if lines else type(exc).__name__)[:200]


def prepare_receptor(protein_path: str | Path, work_dir: str | Path) -> PreparedReceptor:
    """Protein PDB/mmCIF -> rigid receptor PDBQT in `work_dir`, prepared once per file content."""
    import contextlib
    import io
    import warnings

    path = Path(protein_path)
    if not path.is_file():
        raise InputError(str(path), "protein file not found")
    data = path.read_bytes()
    digest = hashlib.sha1(data).hexdigest()[:12]
    key = (str(path.resolve()), digest)
    with _RECEPTOR_LOCK:
        if key in _RECEPTOR_CACHE and _RECEPTOR_CACHE[key].pdbqt_path.is_file():
            return _RECEPTOR_CACHE[key]
    work_dir = Path(work_dir)
    stem = path.name.split(".")[0]
    out = work_dir / f"{stem}-{digest}.pdbqt"
    notes = work_dir / f"{stem}-{digest}.dropped.txt"
    if out.is_file() and out.stat().st_size > 0:
        lines = notes.read_text().splitlines() if notes.is_file() else []
        prepared = PreparedReceptor(str(path), out, [ln for ln in lines if ln and not ln.startswith("#")],
                                    any(ln.startswith("# hydrogens replaced") for ln in lines))
    else:
        try:
            text = _protein_pdb_text(path)
        except Exception as exc:
            raise InputError(str(path), f"protein cannot be read ({first_line(exc)})") from None
        reasons = []
        prepared = None
        for strip_hydrogens in (False, True):
            cleaned, dropped = _clean_pdb(text, strip_hydrogens)
            if not any(ln.startswith(("ATOM", "HETATM")) for ln in cleaned.splitlines()):
                raise InputError(str(path), "no protein residues that meeko can type")
            try:
                # meeko reports template choices on stdout/stderr and as warnings; keep them off ours
                with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
                        contextlib.redirect_stderr(io.StringIO()):
                    warnings.simplefilter("ignore")
                    quiet = BlockLogs()   # RDKit's C++ log of residues meeko then repairs or drops
                    rigid, unbuildable = _polymer_pdbqt(cleaned)
                    del quiet
                dropped = dropped + unbuildable
            except Exception as exc:
                reasons.append(("without" if strip_hydrogens else "with") + f" its hydrogens: {first_line(exc)}")
                continue
            atomic_write_text(out, rigid)
            header = "# hydrogens replaced by meeko's\n" if strip_hydrogens else ""
            atomic_write_text(notes, header + "".join(f"{d}\n" for d in dropped))
            prepared = PreparedReceptor(str(path), out, dropped, strip_hydrogens)
            break
        if prepared is None:
            raise InputError(str(path), "receptor preparation (meeko) failed " + "; ".join(reasons))
    with _RECEPTOR_LOCK:
        _RECEPTOR_CACHE[key] = prepared
    return prepared
