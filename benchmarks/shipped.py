"""The complexes the repository ships with a protein: the README's example (examples/1s3v), the accuracy
regression's (tests/data/regression/1v2s) and the test set's (tests/data/complexes/*): what a measurement can use
on a bare clone, without ../shared."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCREEN_SITE = ROOT / "examples" / "1s3v"


@dataclass(frozen=True)
class ShippedComplex:
    name: str
    protein: Path
    ligand: Path


def shipped_complexes(limit: int | None = None) -> list[ShippedComplex]:
    """The repository's complexes that ship a protein: the README's example, the regression case, the test set's."""
    folders = [SCREEN_SITE, ROOT / "tests" / "data" / "regression" / "1v2s",
               *sorted(p for p in (ROOT / "tests" / "data" / "complexes").iterdir() if p.is_dir())]
    found = [ShippedComplex(f.name, f / f"{f.name}_protein.pdb", f / f"{f.name}_ligand.sdf") for f in folders
             if (f / f"{f.name}_protein.pdb").is_file() and (f / f"{f.name}_ligand.sdf").is_file()]
    return found[:limit] if limit else found
