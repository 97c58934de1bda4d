"""A headless Chromium for the tests that open a report page (marker `browser`, tests/conftest.py): a
screenshot, and the page's DOM with what it logged to the console. WebGL runs on Chromium's software
renderer (SwiftShader), so no GPU or display is needed."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
TIMEOUT_S = 120


def chromium_path() -> str | None:
    return next((path for path in map(shutil.which, CANDIDATES) if path), None)


def _run(url: str, extra: list[str], budget_ms: int) -> subprocess.CompletedProcess:
    chromium = chromium_path()
    if chromium is None:
        raise FileNotFoundError("no Chromium on PATH: a test using it must be marked browser")
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        return subprocess.run([chromium, "--headless", "--no-sandbox", "--enable-unsafe-swiftshader",
                               "--disable-extensions", "--no-first-run", f"--user-data-dir={profile}",
                               f"--virtual-time-budget={budget_ms}", "--enable-logging=stderr", "--v=0",
                               *extra, url], capture_output=True, text=True, timeout=TIMEOUT_S, check=True)


def console_messages(stderr: str) -> list[str]:
    """What the page logged (Chromium writes every console message, whatever its level, as INFO:CONSOLE)."""
    return [line.split("] ", 1)[-1] for line in stderr.splitlines() if ":CONSOLE" in line]


def screenshot(url: str, path: Path, width: int, height: int, budget_ms: int = 10_000) -> list[str]:
    """Save a PNG of the page as shown in a width x height window; returns the console messages."""
    done = _run(url, [f"--screenshot={path}", f"--window-size={width},{height}"], budget_ms)
    if not Path(path).is_file():
        raise RuntimeError(f"Chromium wrote no screenshot: {done.stderr[-2000:]}")
    return console_messages(done.stderr)


def dump_dom(url: str, budget_ms: int = 10_000) -> tuple[str, list[str]]:
    """The page's DOM after its scripts ran, and its console messages."""
    done = _run(url, ["--dump-dom", "--window-size=1400,1100"], budget_ms)
    return done.stdout, console_messages(done.stderr)
