"""The online learner on a large catalogue: time and peak memory of a step and of the gate.

The service runs the online learner in a background thread of every ``taste2vec serve``
(``taste2vec.learning``). This measures what one update costs on a 10,000-coffee synthetic
catalogue (``taste2vec.sim.recommend.synthetic``, seed 3) with ``artifacts/model``: 3,000
SIMULATED reactions of 300 users (random likes and dislikes; the learner's validation set
holds out each user's latest quarter), then ``--steps`` calls of ``OnlineLearner.step``
(default config: 3 AdamW steps each, one torch thread) and one ``promote`` (the gate: the
validation AUC and the content loss of the live model and of the candidate). Each tree runs
in a fresh interpreter; peak RSS is that process's ``ru_maxrss`` (the model, the featurised
catalogue and the reactions are loaded before the steps, shown as "before steps").

    git archive <ref> src | tar -x -C /tmp/base
    .venv/bin/python bench/learner_step.py --baseline-src /tmp/base/src --baseline-ref <ref>

Records the table in bench/RESULTS.md, section ``learner_step``. No target of its own: it
shows what the learner takes from the server it runs in (issue 11: bounded memory).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from taste2vec.evaluation.report import markdown_table, update_section
from taste2vec.sim.ab import run_under

RUN = r"""
import json, resource, sys, time
from datetime import UTC, datetime, timedelta
from pathlib import Path
import numpy as np
from taste2vec.learning.holder import ModelHolder
from taste2vec.learning.learner import OnlineLearner
from taste2vec.learning.validation import ValidationSet
from taste2vec.model.taste2vec import Taste2Vec
from taste2vec.schema import Feedback
from taste2vec.sim.recommend.synthetic import synthetic_catalogue

model_dir, coffees, steps = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
model = Taste2Vec.load(model_dir)
cat = list(synthetic_catalogue(coffees, seed=3))
rng = np.random.default_rng(0)
t0 = datetime(2026, 1, 1, tzinfo=UTC)
feedback = [
    Feedback(
        id=f"f{i}",
        user=f"u{i % 300}",
        coffee=cat[int(rng.integers(len(cat)))].id,
        signal="liked" if rng.random() < 0.5 else "disliked",
        timestamp=t0 + timedelta(minutes=i),
    )
    for i in range(3000)
]
learner = OnlineLearner(ModelHolder(model), cat, ValidationSet.from_feedback(feedback))
for fb in feedback:
    learner.observe(fb)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
t = time.perf_counter()
for _ in range(steps):
    learner.step()
step_s = (time.perf_counter() - t) / steps
t = time.perf_counter()
decision = learner.promote()
gate_s = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print("RESULT " + json.dumps({"step_s": step_s, "gate_s": gate_s, "before_mib": before,
                              "peak_mib": peak, "reason": decision.reason}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--baseline-src", type=Path, action="append", default=[])
    parser.add_argument("--baseline-ref", action="append", default=[])
    parser.add_argument("--model", type=Path, default=Path("artifacts/model"))
    parser.add_argument("--coffees", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--results", type=Path, default=Path("bench/RESULTS.md"))
    args = parser.parse_args()
    if len(args.baseline_ref) != len(args.baseline_src):
        parser.error("give one --baseline-ref per --baseline-src")
    trees = [
        *(
            (f"baseline ({ref})", src)
            for ref, src in zip(args.baseline_ref, args.baseline_src, strict=True)
        ),
        ("this checkout", Path("src")),
    ]
    load = [os.getloadavg()[0]]
    rows = []
    for label, src in trees:
        r = run_under(src, RUN, str(args.model.resolve()), str(args.coffees), str(args.steps))
        load.append(os.getloadavg()[0])
        rows.append(
            [
                label,
                f"{r['step_s']:.2f}",
                f"{r['gate_s']:.2f}",
                f"{r['before_mib']:,.0f}",
                f"{r['peak_mib']:,.0f}",
                r["reason"],
            ]
        )
    table = markdown_table(
        ["learner code", "s/step", "s/gate", "RSS before steps MiB", "peak RSS MiB", "gate"],
        rows,
    )
    baselines = " ".join(
        f"--baseline-src {src} --baseline-ref '{ref}'"
        for ref, src in zip(args.baseline_ref, args.baseline_src, strict=True)
    )
    text = (
        "## Online learner on a 10k catalogue (`bench/learner_step.py`)\n\n"
        f"Command: `.venv/bin/python bench/learner_step.py {baselines}`"
        + (
            " (each baseline tree made with `git archive REF src | tar -x -C DIR`)"
            if baselines
            else ""
        )
        + f". Model `{args.model}`, {args.coffees:,} synthetic coffees, 3,000 SIMULATED "
        f"reactions of 300 users; {args.steps} `OnlineLearner.step` calls (3 AdamW steps "
        "each, one torch thread) then one `promote` (the gate); each tree in a fresh process, "
        "peak RSS from `ru_maxrss`. 1-minute load average "
        + " → ".join(f"{x:.1f}" for x in load)
        + " (2 cores shared with other jobs).\n\n"
        f"{table}\n"
    )
    print(text)
    update_section(args.results, "learner_step", text)


if __name__ == "__main__":
    main()
