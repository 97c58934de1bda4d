import json

import numpy as np

from disco_core.toy.experiment import ToyExperimentConfig, exact_w2, run_toy


def test_exact_w2_known_values():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(300, 2))
    assert exact_w2(a, a[rng.permutation(300)]) < 1e-9
    assert abs(exact_w2(a, a + np.array([3.0, 4.0])) - 5.0) < 1e-9     # a shift moves every point by 5


def test_toy_pipeline_writes_metrics_and_plot(tmp_path):
    cfg = ToyExperimentConfig(num_samples=400, points_per_mode=100, prior_steps=20, sample_steps=10)
    cfg.train.max_steps = 30
    cfg.train.progress = False
    metrics = run_toy(tmp_path, cfg, progress=False)
    written = json.loads((tmp_path / "metrics.json").read_text())
    for key in ("w2_baseline", "w2_disco", "curvature_baseline", "curvature_disco", "jacobian_baseline",
                "jacobian_disco", "seconds"):
        assert key in written and np.isfinite(written[key])
    assert (tmp_path / "trajectories.png").stat().st_size > 10_000
    assert metrics["w2_disco"] == written["w2_disco"]
