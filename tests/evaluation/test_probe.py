"""The ridge probe that ``taste2vec evaluate`` fits on the 128-d vector (issue 10)."""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import RidgeCV

from taste2vec.evaluation.baselines import RIDGE_ALPHAS
from taste2vec.evaluation.run import fit_probe


def test_probe_chooses_each_targets_alpha_by_cv_on_its_training_rows() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 20))
    signal = x[:, 0] + 0.5 * x[:, 1]
    # one clean target, one very noisy one: leave-one-out CV must pick different penalties
    y = np.column_stack([signal + rng.normal(0, 0.1, 300), signal + rng.normal(0, 5.0, 300)])
    probe = fit_probe(x, y)
    alphas = probe.alphas_
    assert set(alphas) <= set(RIDGE_ALPHAS)
    assert alphas[1] > alphas[0]
    # the same choice as RidgeCV (efficient leave-one-out) on the standardised features
    z = (x - x.mean(axis=0)) / x.std(axis=0)
    for j in range(2):
        assert alphas[j] == RidgeCV(alphas=RIDGE_ALPHAS).fit(z, y[:, j]).alpha_
    # and it generalises: fresh rows from the same process
    x_new = rng.normal(size=(200, 20))
    pred = probe.predict(x_new)
    assert np.corrcoef(pred[:, 0], x_new[:, 0] + 0.5 * x_new[:, 1])[0, 1] > 0.99
