import subprocess
import sys

import pytest

from disco_core.cli import main


def test_help_lists_contributed_commands():
    out = subprocess.run([sys.executable, "-m", "disco_core.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "toy" in out.stdout


def test_usage_error_exits_2(capsys):
    with pytest.raises(SystemExit) as usage:
        main(["toy"])  # --out missing
    assert usage.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: disco toy ")
    assert err.rstrip().endswith("disco toy: error: the following arguments are required: --out")


def test_user_error_is_one_line_without_traceback(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    # --device with a name torch does not know is a user mistake: one line, exit 1.
    out = subprocess.run([sys.executable, "-m", "disco_core.cli", "toy", "--out", str(tmp_path / "o"),
                          "--device", "tpu9", "--steps", "1"], capture_output=True, text=True)
    assert out.returncode == 1
    assert out.stderr.strip().startswith("disco: error:") and len(out.stderr.strip().splitlines()) == 1
