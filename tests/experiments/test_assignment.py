"""Sticky deterministic assignment and the per-arm metrics built from events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from taste2vec.experiments.assignment import arm_of, bucket
from taste2vec.experiments.metrics import ArmMetrics

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def test_assignment_is_deterministic_and_sticky() -> None:
    users = [f"u{i}" for i in range(5000)]
    first = [arm_of("salt-1", u, 0.1) for u in users]
    assert first == [arm_of("salt-1", u, 0.1) for u in users]  # same answer every time
    share = first.count("treatment") / len(users)
    assert abs(share - 0.1) < 4 * (0.1 * 0.9 / len(users)) ** 0.5  # within 4 standard errors
    other = [arm_of("salt-2", u, 0.1) for u in users]
    assert other != first  # a new salt re-draws the arms
    assert 0 <= bucket("s", "u") < 1


@pytest.mark.parametrize("share", [0.0, 1.0, -0.1, 1.5])
def test_assignment_refuses_a_share_outside_0_1(share: float) -> None:
    with pytest.raises(ValueError, match="treatment_share"):
        arm_of("s", "u", share)


def test_arm_metrics_are_exact_per_user_sums() -> None:
    salt, share = "salt", 0.5
    metrics = ArmMetrics("exp-1", salt, share)
    users = [f"u{i}" for i in range(40)]
    expected = {"control": [0, 0, 0], "treatment": [0, 0, 0]}  # shown, clicked, users
    ratings: dict[str, list[int]] = {"control": [], "treatment": []}
    for i, user in enumerate(users):
        arm = arm_of(salt, user, share)
        # a click that arrives before the user's first exposure waits for it
        metrics.add(user, "recommendation_clicked", {"request": f"{user}-r0"}, T0)
        for r in range(3):
            metrics.add(
                user,
                "recommendation_shown",
                {"experiment": "exp-1", "arm": arm, "request": f"{user}-r{r}"},
                T0 + timedelta(seconds=r),
            )
        rating = 1 + i % 5
        metrics.add(user, "box_rated", {"rating": rating}, T0 + timedelta(hours=1))
        ratings[arm].append(rating)
        expected[arm][0] += 3
        expected[arm][1] += 1
        expected[arm][2] += 1
    # tagged with the wrong arm: left out and counted
    wrong = "treatment" if arm_of(salt, "x", share) == "control" else "control"
    metrics.add("x", "recommendation_shown", {"experiment": "exp-1", "arm": wrong}, T0)
    # another experiment's exposure is not this one's
    metrics.add("y", "recommendation_shown", {"experiment": "exp-2", "arm": "control"}, T0)
    control, treatment = metrics.arm_data()
    assert metrics.mismatched == 1
    for arm, data in (("control", control), ("treatment", treatment)):
        shown, clicked, n_users = expected[arm]
        assert data.users == n_users
        ctr = data.metrics["recommendation_ctr"]
        assert (ctr.n, ctr.total) == (shown, clicked)
        sat = data.metrics["user_satisfaction"]
        assert sat.n == len(ratings[arm])
        assert sat.total == sum(ratings[arm])
        assert sat.total_sq == sum(r * r for r in ratings[arm])
        assert data.metrics["subscription_retention"].total == n_users  # nobody cancelled
