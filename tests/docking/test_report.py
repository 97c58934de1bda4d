"""OUT/report.html of a real `disco dock` run (the shipped 1s3v example, two copies of its ligand and one bad
record, --fast with 2 poses and --check): the files it is made of, that it is rebuilt from disk alone and
incrementally, and, in a headless Chromium (marker `browser`), that the page draws the complex, loads a
ligand on demand and logs no error."""

import csv
import json
import os
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from disco_core.cli import main
from docking.contacts import receptor as interaction_receptor
from docking.report.page import ASSETS, LIGAND_DATA, write_run_report
from tests.headless_browser import dump_dom, screenshot

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "1s3v"
PROTEIN = str(EXAMPLE / "1s3v_protein.pdb")
LIGAND = str(EXAMPLE / "1s3v_ligand.sdf")
FAST = ["--fast", "--samples", "2", "--steps", "4", "--no-progress", "--device", "cpu"]
BAD_RECORD = ("broken\n  x\n\n  1  0  0  0  0  0  0  0  0  0999 V2000\n"
              "    0.0000    0.0000    0.0000 Xx  0  0  0  0  0  0  0  0  0  0  0  0\nM  END\n$$$$\n")
VIEWER_BACKGROUND = (244, 246, 249)     # the 3Dmol canvas' clear colour (#f4f6f9 in report_assets/report.html)


def rows(path: Path) -> list[dict]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def ligand_data(path: Path) -> dict:
    text = path.read_text()
    return json.loads(text[text.index("ligandLoaded(") + len("ligandLoaded("):text.rindex(");")])


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """Two ligands of one protein and a record RDKit rejects, with the PoseBusters checks."""
    work = tmp_path_factory.mktemp("report")
    library = work / "library.sdf"
    library.write_text(Path(LIGAND).read_text() + BAD_RECORD + Path(LIGAND).read_text())
    out = work / "out"
    assert main(["dock", "--protein", PROTEIN, "--ligand", str(library), "--autobox-ligand", LIGAND,
                 "--out", str(out), "--check", *FAST]) == 0
    return out


def test_report_files(run):
    summary = rows(run / "summary.csv")
    assert [r["status"] for r in summary] == ["ok", "failed", "ok"]
    page = (run / "report.html").read_text()
    assert "https://" not in page and "http://" not in page                 # nothing from the network
    assert '<script src="report_assets/3Dmol-min.js"' in page
    assert (run / ASSETS / "3Dmol-min.js").stat().st_size > 500_000
    assert (run / ASSETS / "3Dmol-LICENSE.txt").read_text().count("BSD") >= 1
    proteins = list((run / ASSETS / "proteins").glob("*.js"))
    assert len(proteins) == 1                                            # stored once for both ligands
    for name in ("1s3v_ligand", "1s3v_ligand_2"):
        data = ligand_data(run / name / LIGAND_DATA)
        assert data["protein"] == proteins[0].stem and data["notes"] == []
        assert [p["properties"]["rank"] for p in data["poses"]] == ["1", "2"]
        assert {"rank", "interaction_energy", "confidence", "pb_valid"} <= {key for key, _ in data["columns"]}
        assert data["pocket"] and all(r["chain"] == "A" for r in data["pocket"])
        assert data["sites"] == [] and not (run / name / "sites.csv").exists()     # the site was given: no sites table
        assert "site" not in {key for key, _ in data["columns"]}
        # every contact of interactions.csv is in the data, placed between ligand and protein atoms
        contacts = rows(run / name / "interactions.csv")
        assert sum(len(p["contacts"]) for p in data["poses"]) == len(contacts) > 0
        assert all(c["from"] and c["to"] for p in data["poses"] for c in p["contacts"])
    assert not (run / "library_2" / LIGAND_DATA).exists()
    run_data = json.loads(re.search(r"window\.DISCO_RUN = (.*?);</script>", page).group(1))
    assert [row["ok"] for row in run_data["rows"]] == [True, False, True]
    assert "cannot be read" in run_data["rows"][1]["reason"]
    assert run_data["first_ligand"] == "1s3v_ligand"
    size = sum(p.stat().st_size for p in run.rglob("*")
               if p.is_file() and (p.suffix == ".js" or p.name == "report.html") and p.parent.name != ASSETS)
    assert size < 400_000, size        # page + protein + two ligands' data, the viewer library aside


def test_pose_records_keep_an_empty_title_line(tmp_path):
    """Poses of a SMILES have no title: the record's first line is empty and must stay (the counts line is the
    fourth), or the viewer gets a mol block it cannot read; the properties come back as the strings written."""
    from rdkit import Chem
    from rdkit.Chem import AllChem

    from docking.runs.outputs import sdf_text
    from docking.report.ligand import pose_blocks

    mol = Chem.AddHs(Chem.MolFromSmiles("CC(=O)Nc1ccc(O)cc1"))
    AllChem.EmbedMolecule(mol, randomSeed=0)
    mol = Chem.RemoveHs(mol)
    path = tmp_path / "poses.sdf"
    path.write_text(sdf_text([mol, mol], [{"rank": "1", "interactions": ""},
                                          {"rank": "2", "interactions": "HBDonor:ASP1.A"}]))
    records = pose_blocks(path)
    assert [properties for _, _, properties in records] == [{"rank": "1", "interactions": ""},
                                                           {"rank": "2", "interactions": "HBDonor:ASP1.A"}]
    for molblock, positions, _ in records:
        assert molblock.startswith("\n") and Chem.MolFromMolBlock(molblock).GetNumAtoms() == mol.GetNumAtoms()
        assert positions == pytest.approx(mol.GetConformer().GetPositions(), abs=1e-4)


def test_rebuild_from_disk_is_incremental(run, tmp_path):
    copy = tmp_path / "out"
    shutil.copytree(run, copy)
    data = copy / "1s3v_ligand" / LIGAND_DATA
    later = time.time_ns() + 3600 * 10**9            # an hour ahead: fresher than its sources
    before = data.read_bytes()
    data.write_text(before.decode().replace('"1s3v_ligand"', '"untouched"', 1))
    os.utime(data, ns=(later, later))
    assert write_run_report(copy) == copy / "report.html"
    assert b'"untouched"' in data.read_bytes()      # fresh: kept as it was
    os.utime(data, ns=(1, 1))                        # older than poses.sdf: rewritten
    write_run_report(copy)
    assert data.read_bytes() == before


def test_a_missing_protein_gives_a_page_without_it(run, tmp_path):
    copy = tmp_path / "out"
    shutil.copytree(run, copy)
    table = (copy / "summary.csv").read_text().replace(PROTEIN, str(tmp_path / "moved.pdb"))
    (copy / "summary.csv").write_text(table)
    shutil.rmtree(copy / ASSETS)
    write_run_report(copy)
    data = ligand_data(copy / "1s3v_ligand" / LIGAND_DATA)
    assert data["protein"] is None and data["pocket"] == [] and "moved.pdb not found" in data["notes"][0]
    assert len(data["poses"]) == 2 and (copy / ASSETS / "3Dmol-min.js").is_file()
    shutil.copy(PROTEIN, tmp_path / "moved.pdb")                 # found again: the next rebuild shows it
    write_run_report(copy)
    data = ligand_data(copy / "1s3v_ligand" / LIGAND_DATA)
    assert data["protein"] and data["pocket"] and data["notes"] == []


def test_no_report_and_no_interactions(tmp_path):
    out = tmp_path / "out"
    assert main(["dock", "--protein", PROTEIN, "--ligand", LIGAND, "--autobox-ligand", LIGAND, "--out", str(out),
                 "--no-report", "--no-interactions", *FAST]) == 0
    assert not (out / "report.html").exists() and not (out / ASSETS).exists()
    assert not (out / "1s3v_ligand" / "interactions.csv").exists()
    assert "interactions" not in rows(out / "summary.csv")[0]
    assert "interactions" not in (out / "1s3v_ligand" / "poses.sdf").read_text()
    page = write_run_report(out)                     # what `merge` / `--resume` will call
    data = ligand_data(out / "1s3v_ligand" / LIGAND_DATA)
    assert page.is_file() and "interactions were not computed" in " ".join(data["notes"])


def test_interactions_that_fail_never_fail_the_ligand(tmp_path, monkeypatch):
    def unreadable(path, **crop):
        raise interaction_receptor.InputError(str(path), "cannot build the protonated protein (test)")

    monkeypatch.setattr(interaction_receptor, "prolif_receptor", unreadable)
    out = tmp_path / "out"
    assert main(["dock", "--protein", PROTEIN, "--ligand", LIGAND, "--autobox-ligand", LIGAND, "--out", str(out),
                 *FAST]) == 0
    summary = rows(out / "summary.csv")[0]
    assert summary["status"] == "ok" and "protonated protein (test)" in summary["interactions_error"]
    assert not (out / "1s3v_ligand" / "interactions.csv").exists()
    assert len(re.findall(r"^> +<interactions_error>", (out / "1s3v_ligand" / "poses.sdf").read_text(), re.M)) == 2
    data = ligand_data(out / "1s3v_ligand" / LIGAND_DATA)
    assert any("protonated protein (test)" in note for note in data["notes"])


def _errors(console: list[str]) -> list[str]:
    return [line for line in console if "Uncaught" in line or "disco-report error" in line or "Error" in line]


@pytest.mark.browser
def test_page_draws_the_complex(run, tmp_path):
    """The viewer's canvas (found by its clear colour) is large and far from blank: the protein and pose drawn."""
    shot = tmp_path / "report.png"
    console = screenshot((run / "report.html").as_uri(), shot, 1400, 1100)
    assert _errors(console) == []
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    background = (pixels == VIEWER_BACKGROUND).all(axis=2)
    ys, xs = np.nonzero(background)
    assert len(ys) > 0, "no viewer canvas: WebGL did not draw"
    canvas = pixels[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    assert canvas.shape[0] > 300 and canvas.shape[1] > 500, canvas.shape
    drawn = ~(canvas == VIEWER_BACKGROUND).all(axis=2)
    assert drawn.mean() > 0.2, drawn.mean()           # cartoon, pocket sticks and the pose cover the view
    assert canvas.std() > 20, canvas.std()


@pytest.mark.browser
def test_page_shows_the_pose_table(run):
    dom, console = dump_dom((run / "report.html").as_uri())
    assert _errors(console) == []
    assert re.search(r'<ul id="report-errors">\s*</ul>', dom)
    assert re.search(r'id="ligand" data-state="ready" data-pose="1"', dom)
    assert '<h2 id="ligand-title">1s3v_ligand</h2>' in dom
    pose_table = dom[dom.index('<table id="pose-table">'):dom.index("</table>", dom.index('<table id="pose-table">'))]
    assert len(re.findall(r"<tr[ >]", pose_table)) == 3               # header + two poses
    assert "PoseBusters" in pose_table and ">pass<" in pose_table
    contact_table = dom[dom.index('<table id="contact-table">'):]
    assert "Hydrophobic" in contact_table
    summary_table = dom[dom.index('<table id="summary-table">'):dom.index('<section id="ligand"')]
    assert 'href="#ligand=1s3v_ligand_2"' in summary_table and "library_2" in summary_table


@pytest.mark.browser
def test_a_ligand_opened_by_its_link_loads_on_demand(run):
    dom, console = dump_dom((run / "report.html").as_uri() + "#ligand=1s3v_ligand_2")
    assert _errors(console) == []
    assert '<h2 id="ligand-title">1s3v_ligand_2</h2>' in dom and 'data-state="ready"' in dom
    assert dom.count('src="1s3v_ligand_2/report_data.js"') == 1 and 'src="1s3v_ligand/report_data.js"' not in dom
