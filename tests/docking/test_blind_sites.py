"""What a blind `disco dock` run tells the user about its sites: OUT/<name>/sites.csv (centre, the finder's score,
volume, the residues lining each site, docked or not), the site of every written pose, the sites table of the
report, and the one-line refusal of a protein without a cavity (that item fails, the batch goes on).

One run (module fixture) of the shipped 1s3v example with --fast, 2 poses of 4 steps at 2 sites, beside a
15-residue fragment of the same protein (no pocket) in one --csv batch. The checks recompute what they
compare with from the files (the crystal ligand's SDF, the PDB's ATOM records read as text), not from the
site search."""

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest
from rdkit import Chem

from data_prep.protein import read_heavy_atoms
from disco_core.cli import main
from docking.inference.site_search import LISTED_SITES, blind_site_table, candidate_sites
from docking.report.page import LIGAND_DATA

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "1s3v"
PROTEIN = EXAMPLE / "1s3v_protein.pdb"
LIGAND = EXAMPLE / "1s3v_ligand.sdf"
NAME = "1s3v_ligand"          # the SDF record's title names its folder
BLIND_SITES = 2
FAST = ["--fast", "--samples", "2", "--steps", "4", "--blind-sites", str(BLIND_SITES), "--no-interactions",
        "--no-progress", "--device", "cpu"]
SITE_COLUMNS = ["rank", "site", "center_x", "center_y", "center_z", "score", "volume_A3", "docked", "poses",
                "best_pose_rank", "residues"]


def rows(path: Path) -> list[dict]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def residue_atoms(pdb: Path) -> dict[str, np.ndarray]:
    """Heavy-atom positions of every residue of a PDB file but waters, keyed "A:TYR45", from the text columns."""
    atoms: dict[str, list] = {}
    for line in pdb.read_text().splitlines():
        if not line.startswith(("ATOM", "HETATM")) or line[17:20].strip() == "HOH":
            continue
        element = line[76:78].strip() or line[12:16].strip().lstrip("0123456789")[:1]
        if element in ("H", "D") or line[16] not in (" ", "A"):
            continue
        key = f"{line[21].strip() or '_'}:{line[17:20].strip()}{line[22:26].strip()}{line[26].strip()}"
        atoms.setdefault(key, []).append([float(line[30:38]), float(line[38:46]), float(line[46:54])])
    return {key: np.array(value) for key, value in atoms.items()}


def fragment(path: Path, residues: int = 15) -> Path:
    """The first residues of the 1s3v protein: a strand with nothing buried."""
    kept, lines = [], []
    for line in PROTEIN.read_text().splitlines():
        if line.startswith("ATOM"):
            key = line[21:27]
            if key not in kept:
                kept.append(key)
            if len(kept) <= residues:
                lines.append(line)
    path.write_text("\n".join(lines + ["END"]) + "\n")
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("blind")
    table = work / "pairs.csv"
    table.write_text("complex_name,protein_path,ligand_description\n"
                     f"1s3v,{PROTEIN},{LIGAND}\n"
                     f"strand,{fragment(work / 'strand.pdb')},c1ccccc1O\n")
    out = work / "out"
    assert main(["dock", "--csv", str(table), "--out", str(out), *FAST]) == 0       # one item failed, one docked
    return out


def test_sites_csv_lists_the_candidate_sites(run):
    sites = rows(run / NAME / "sites.csv")
    assert list(sites[0]) == SITE_COLUMNS
    assert 2 <= len(sites) <= LISTED_SITES
    assert [int(s["rank"]) for s in sites] == list(range(1, len(sites) + 1))
    assert [s["site"] for s in sites] == [f"blind-site-{i}" for i in range(1, len(sites) + 1)]
    assert [s["docked"] for s in sites] == ["True"] * BLIND_SITES + ["False"] * (len(sites) - BLIND_SITES)
    scores = [float(s["score"]) for s in sites]
    assert scores == sorted(scores, reverse=True) and all(float(s["volume_A3"]) >= 20 for s in sites)
    centres = np.array([[float(s[f"center_{axis}"]) for axis in "xyz"] for s in sites])
    gaps = np.linalg.norm(centres[:, None] - centres[None], axis=2) + np.eye(len(sites)) * 1e3
    assert gaps.min() >= 8.0                                  # sites kept apart
    # site 1 is the crystal ligand's pocket: within 4 A of its centroid (2.6 A when this was written)
    crystal = Chem.MolFromMolFile(str(LIGAND)).GetConformer().GetPositions()
    assert np.linalg.norm(centres[0] - crystal.mean(0)) < 4.0


def test_residues_line_their_site(run):
    """Each listed residue has a heavy atom within 10 A of its site's centre (the core's 6 A radius plus the 4 A
    lining cutoff; at most 9.4 A when this was written); every residue with one within 6 A is listed; and site 1
    lists most residues that touch the crystal ligand (within 4 A: 15 of 17 when this was written)."""
    atoms = residue_atoms(PROTEIN)
    sites = rows(run / NAME / "sites.csv")
    for site in sites:
        centre = np.array([float(site[f"center_{axis}"]) for axis in "xyz"])
        listed = site["residues"].split()
        assert listed and len(set(listed)) == len(listed) and set(listed) <= set(atoms)
        nearest = {key: np.linalg.norm(pos - centre, axis=1).min() for key, pos in atoms.items()}
        assert max(nearest[key] for key in listed) <= 10.0
        assert {key for key, d in nearest.items() if d <= 6.0} <= set(listed)
    crystal = Chem.MolFromMolFile(str(LIGAND)).GetConformer().GetPositions()
    touching = {key for key, pos in atoms.items()
                if np.linalg.norm(pos[:, None] - crystal[None], axis=2).min() <= 4.0}
    assert len(touching & set(sites[0]["residues"].split())) >= 0.8 * len(touching)


def test_each_written_pose_names_its_docked_site(run):
    sites = rows(run / NAME / "sites.csv")
    pose_sites = [m.GetProp("site") for m in Chem.SDMolSupplier(str(run / NAME / "poses.sdf"))]
    assert len(pose_sites) == 2
    assert set(pose_sites) <= {s["site"] for s in sites if s["docked"] == "True"}
    for site in sites:
        ranks = [rank for rank, label in enumerate(pose_sites, start=1) if label == site["site"]]
        assert int(site["poses"]) == len(ranks)
        assert site["best_pose_rank"] == (str(ranks[0]) if ranks else "")
    for rank, label in enumerate(pose_sites, start=1):
        assert next(iter(Chem.SDMolSupplier(str(run / NAME / f"rank{rank}.sdf")))).GetProp("site") == label
    assert rows(run / "summary.csv")[0]["pocket"] == "blind"


def test_a_protein_without_a_cavity_fails_that_item_only(run, tmp_path, capsys):
    summary = {r["name"]: r["status"] for r in rows(run / "summary.csv")}
    assert summary == {NAME: "ok", "strand": "failed"}
    reason = rows(run / "failures.csv")[0]["reason"]
    assert "strand.pdb: no cavity" in reason and "--pocket-center" in reason and "--autobox-ligand" in reason
    assert not (run / "strand").exists()
    # alone, it is the run's only item: exit 1, the reason on one line of stderr
    capsys.readouterr()
    strand = fragment(tmp_path / "strand.pdb")
    assert main(["dock", "--protein", str(strand), "--ligand", "c1ccccc1O", "--out", str(tmp_path / "out"),
                 *FAST]) == 1
    err = capsys.readouterr().err
    said = [line for line in err.splitlines() if "no cavity" in line]
    assert len(said) == 1 and "--pocket-center" in said[0] and "--autobox-ligand" in said[0]
    assert "Traceback" not in err


def test_report_shows_the_sites(run):
    text = (run / NAME / LIGAND_DATA).read_text()
    data = json.loads(text[text.index("ligandLoaded(") + len("ligandLoaded("):text.rindex(");")])
    sites = rows(run / NAME / "sites.csv")
    assert [s["site"] for s in data["sites"]] == [s["site"] for s in sites]
    assert [s["residues"] for s in data["sites"]] == [s["residues"].split() for s in sites]
    assert data["sites"][0]["center"] == [float(sites[0][f"center_{axis}"]) for axis in "xyz"]
    assert [key for key, _ in data["columns"]][:2] == ["rank", "site"]
    assert '<table id="sites-table">' in (run / "report.html").read_text()


@pytest.mark.browser
def test_page_draws_the_sites_table(run):
    from tests.headless_browser import dump_dom

    dom, console = dump_dom((run / "report.html").as_uri() + "#ligand=" + NAME)
    assert not [line for line in console if "error" in line.lower()]
    assert 'data-state="ready"' in dom
    start = dom.index('<div id="sites-box"')
    box = dom[start:dom.index("</table>", start)]
    sites = rows(run / NAME / "sites.csv")
    assert len(re.findall(r"<tr[ >]", box)) == len(sites) + 1               # header + one row per site
    assert all(f"<td>{s['site']}</td>" in box for s in sites) and sites[0]["residues"] in box
    assert "hidden" not in dom[start:dom.index(">", start)]


def test_site_table_docks_the_sites_blind_docking_searches():
    """The listed sites extend the docked ones: the first `docked` are candidate_sites(docked) (same centres, the
    labels the poses carry), the rest are listed, not docked; at least `docked` are listed."""
    atoms = read_heavy_atoms(PROTEIN).pos
    table = blind_site_table(PROTEIN, atoms, docked=1)
    assert [site.center for site in table[:1]] == [site.center for site in candidate_sites(atoms, 1)]
    assert [site.label for site in table] == [site.source for site in candidate_sites(atoms, LISTED_SITES)]
    assert [site.docked for site in table] == [True] + [False] * (len(table) - 1)
    assert all(site.docked for site in blind_site_table(PROTEIN, atoms, docked=LISTED_SITES + 2))
