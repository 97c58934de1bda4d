"""Shared test settings: one intra-op thread (the models under test are small; more threads only contend), and
the data markers, so that a clone without ../shared/data, Debian's Fashion-MNIST, a headless Chromium or a GPU
runs everything else."""

import os
import socket
from pathlib import Path

import pytest
import torch

from benchmarks.pocket_finders import FINDERS, is_installed
from images.datasets import FASHION_MNIST_ROOT, fashion_mnist_available
from tests.data_paths import REPO, SHARED_DATA, shared_data_present  # noqa: F401  (REPO: other tests import it from here)
from tests.headless_browser import chromium_path

torch.set_num_threads(1)

# Markers of tests whose data or tools may be missing from a clone: marker -> (data present, why it is needed). Absent
# data deselects the marked tests (reported, never a skip); present data makes a skip of one of them a failure.
DATA_MARKERS = {
    "shared_data": (shared_data_present(), f"needs ../shared/data beside the repository ({SHARED_DATA} is absent)"),
    "fashion_mnist": (fashion_mnist_available(),
                      f"needs the full Fashion-MNIST of Debian's dataset-fashion-mnist ({FASHION_MNIST_ROOT} is absent)"),
    "browser": (chromium_path() is not None,
                "needs a headless Chromium to open report pages (no chromium on PATH; Debian: apt-get install "
                "chromium)"),
    "pocket_finders": (all(is_installed(name) for name in FINDERS),
                       "needs the optional pocket finders of `disco bench pockets --finders` (pip install "
                       "'.[pockets]': " + ", ".join(sorted(n for n in FINDERS if not is_installed(n))) + " missing)"),
    "cuda": (torch.cuda.is_available(), "needs a CUDA GPU (torch.cuda.is_available() is False here; each has a CPU "
                                        "twin that ran)"),
    "multi_gpu": (torch.cuda.device_count() >= 2, f"needs two CUDA GPUs ({torch.cuda.device_count()} here)"),
}
DESELECTED = pytest.StashKey[dict]()


def pytest_report_header(config) -> list[str]:
    return [f"data marker {name}: " + ("present, its tests must run" if present else f"deselected, {why}")
            for name, (present, why) in DATA_MARKERS.items()]


def pytest_collection_modifyitems(config, items) -> None:
    _slow_files_first(items)
    deselected: dict[str, list] = {}
    kept = []
    for item in items:
        missing = [name for name, (present, _) in DATA_MARKERS.items() if not present and item.get_closest_marker(name)]
        if missing:
            deselected.setdefault(missing[0], []).append(item)
        else:
            kept.append(item)
    if deselected:
        config.hook.pytest_deselected(items=[item for group in deselected.values() for item in group])
        items[:] = kept
    config.stash[DESELECTED] = {name: len(group) for name, group in deselected.items()}


def _slow_files_first(items) -> None:
    """Files holding a `slow` test go first (test order inside a file unchanged): under pytest-xdist's
    --dist loadfile the suite then ends near max(longest file, total / workers), not longest file + the rest."""
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow_files)


def pytest_sessionfinish(session) -> None:
    """An xdist worker hands its deselection counts to the controller, which prints the summary."""
    if hasattr(session.config, "workeroutput"):
        session.config.workeroutput["deselected_by_marker"] = session.config.stash.get(DESELECTED, {})


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    counts = getattr(node, "workeroutput", {}).get("deselected_by_marker")
    if counts is not None:
        node.config.stash[DESELECTED] = counts     # every worker collects the same items: any one's counts do


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    for name, count in config.stash.get(DESELECTED, {}).items():
        terminalreporter.write_line(f"deselected {count} test(s) marked {name}: {DATA_MARKERS[name][1]}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A marked test whose data is present must run: its skip becomes a failure."""
    report = (yield).get_result()
    if report.skipped and not hasattr(report, "wasxfail"):
        for name, (present, _) in DATA_MARKERS.items():
            if present and item.get_closest_marker(name):
                reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
                report.outcome = "failed"
                report.longrepr = f"marked {name} and its data is present, so it must run, but it skipped: {reason}"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data, for tests marked `shared_data` (deselected when it is absent, so this never skips)."""
    if not shared_data_present():
        pytest.fail(f"{SHARED_DATA} is absent: a test using it must be marked shared_data")
    return SHARED_DATA


@pytest.fixture
def single_process_group(monkeypatch):
    """The environment torchrun gives one rank of a world of one: the trainer then takes its DDP path (gloo on
    CPU). The group is destroyed afterwards."""
    import torch.distributed as dist

    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    with socket.socket() as probe:          # a free port: xdist workers run such tests side by side
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("MASTER_PORT", str(port))
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setenv("DISCO_FORCE_DDP", "1")
    yield
    if dist.is_initialized():
        dist.destroy_process_group()
