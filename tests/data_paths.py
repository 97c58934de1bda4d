"""Where the tests' data lives. The small vendored set in tests/data ships with every clone, so a test on
it never skips: a missing vendored file fails. The big ../shared/data beside the repository is only there
on development machines; tests that need it carry the `shared_data` marker (see tests/conftest.py)."""

from __future__ import annotations

import csv
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENDORED = REPO / "tests" / "data" / "complexes"          # PDBBind layout, index.csv paths relative to it
VENDORED_INDEX = VENDORED / "index.csv"
FASHION_MNIST_SLICE = REPO / "tests" / "data" / "fashion-mnist"   # 200 train + 200 test images, IDX.gz
SHARED_DATA = REPO.parent / "shared" / "data"
SHARED_INDEX = SHARED_DATA / "index.csv"


def shared_data_present() -> bool:
    return (SHARED_DATA / "complexes").is_dir()


def complex_folder(name: str) -> Path:
    """`<name>/` holding `<name>_protein.pdb` and `<name>_ligand.sdf`: the vendored copy first, else
    ../shared/data's. Raises instead of skipping, so that a lost vendored complex fails its tests."""
    for root in (VENDORED, SHARED_DATA / "complexes"):
        if (root / name).is_dir():
            return root / name
    raise FileNotFoundError(f"complex {name} is neither in {VENDORED} nor in {SHARED_DATA / 'complexes'}")


def index_rows(index_csv: Path) -> list[dict[str, str]]:
    """The rows of an index.csv (vendored or shared), with protein_path / ligand_path made absolute: each
    index gives them relative to its own folder. Ligand-only vendored rows keep an empty protein_path."""
    with index_csv.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        for key in ("protein_path", "ligand_path"):
            if row[key]:
                row[key] = str(index_csv.parent / row[key])
    return rows
