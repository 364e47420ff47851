"""Growing sample sizes: the schedule's parsing and refusals, exact training sizes, and the closed forms
of theory.growth against simulation (|z| < 4, z from the standard error of the mean)."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import experiment, simulate, z_score
from modelcollapse.run.loading import ConfigError
from modelcollapse.theory import growth
from modelcollapse.workflows.schedule import sizes

Z = 4.0


def test_schedule_forms() -> None:
    assert sizes([5, 7, 9, 11], 3).tolist() == [5, 7, 9]
    assert sizes("20 * t**1.5", 4).tolist() == [20, 57, 104, 160]
    assert sizes("ceil(10 * sqrt(t))", 3).tolist() == [10, 15, 18]
    assert sizes({"formula": "n0 + step * (t - 1)", "n0": 10, "step": 5}, 3).tolist() == [10, 15, 20]


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ("__import__('os').system('x')", "a formula may use numbers"),
        ("t.real", "a formula may use numbers"),
        ("10 * (t", "not a formula of t"),
        ("10 - 5 * t", "the formula gives -0 rows at t = 2|the formula gives 0 rows at t = 2"),
        ("10 ** (10 ** t)", "the formula fails at t = 3|the formula gives"),
        ("10 ** 10 ** 10 * t", "the formula fails at t = 1: "),
        ("sqrt(-t)", "the formula fails at t = 1: math domain error"),
        ("x" * 201, "a formula is at most 200 characters"),
        ({"formula": "n0 * t", "T": 3}, "a constant is a short lower-case name"),
        ({"n0": 3}, "a schedule mapping needs formula"),
    ],
)
def test_bad_schedules_are_refused(schedule, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=message):
        sizes(schedule, 5)


def test_config_errors_name_the_field() -> None:
    with pytest.raises(ConfigError, match="a schedule covers at most 1,000,000 generations; generations is 2,000,000"):
        experiment(samples_per_generation="10 * t", generations=2_000_000)
    with pytest.raises(ConfigError, match="samples_per_generation: the schedule lists 2 sizes; generations is 6"):
        experiment(samples_per_generation=[10, 20])
    with pytest.raises(ConfigError, match="workflow\\[0\\]: mix has a fixed size; a schedule works with: replace"):
        experiment(samples_per_generation="10 * t", workflow=["mix"])
    with pytest.raises(ConfigError, match="give samples_per_generation as a schedule or schedule, not both"):
        experiment(samples_per_generation="10 * t", schedule="10 * t")


def test_training_sizes_follow_the_schedule_exactly() -> None:
    out = simulate(samples_per_generation="10 * t", workflow=["replace", "accumulate", {"kind": "window", "size": 2}])
    n = 10 * np.arange(1, 7)
    assert out["replace"]["train_size"][:, 0].tolist() == n.tolist()
    assert out["accumulate"]["train_size"][:, 0].tolist() == np.cumsum(n).tolist()
    window = [10, 30, 60, 80, 100, 120]  # real 10 + the last two synthetic sets
    assert out["window"]["train_size"][:, 0].tolist() == window


def test_constant_schedule_is_the_integer() -> None:
    """A list of equal sizes gives the same numbers as the integer (same streams: the chain key is n_1)."""
    a = simulate(samples_per_generation=10, replicates=3)
    b = simulate(samples_per_generation=[10] * 6, replicates=3)
    assert np.array_equal(a["replace"]["cov_trace_ratio"], b["replace"]["cov_trace_ratio"])
    assert experiment(samples_per_generation=10).model_dump() == {
        k: v for k, v in experiment(samples_per_generation=10).model_dump().items() if k != "schedule"
    }


@pytest.mark.parametrize("schedule", ["10", "10 * t", "10 * t**1.5"])
def test_replace_variance_and_log_variance(schedule: str) -> None:
    """E sigma_t^2 = sigma^2 prod (1 - 1/n_s) while the mean is not heavy-tailed, and E log sigma_t^2 at every t."""
    g = 12
    n = sizes(schedule, g)
    out = simulate(
        samples_per_generation=schedule,
        generations=g,
        replicates=4000,
        metrics=["cov_trace_ratio", "cov_logdet_change"],
    )["replace"]
    factor, logs = growth.variance_factor(n), growth.log_variance_change(n)
    ok = np.cumsum(2.0 / n) <= 0.5
    for t in range(g):
        if ok[t]:
            assert abs(z_score(out["cov_trace_ratio"][t], factor[t])) < Z
        assert abs(z_score(out["cov_logdet_change"][t], logs[t])) < Z


def test_superlinear_growth_avoids_collapse() -> None:
    """The limit of prod (1 - 1/(n0 t^a)): positive iff a > 1; power_limit agrees with a long product."""
    t = np.arange(1, 10**6 + 1, dtype=float)
    for a in (1.5, 2.0):
        long = np.prod(1 - 1 / (20 * t**a))
        tail = 1 / (20 * (a - 1) * 1e6 ** (a - 1))  # the terms past 10^6: sum x_t ~ integral
        assert abs(growth.power_limit(20, a) - long * (1 - tail)) < 1e-6
    assert growth.power_limit(20, 1.0) == 0.0 and not growth.collapse_avoided(1.0)
    # linear growth decays like T^(-1/n0): slowly, but to zero
    linear = growth.variance_factor(20 * np.arange(1, 10**5 + 1))
    assert linear[-1] < linear[999] * (1000 / 1e5) ** (1 / 20) * 1.01
    assert linear[-1] < 0.6 < growth.power_limit(20, 1.5)


def test_predictions_use_the_schedule() -> None:
    from modelcollapse.analysis.predictions import predict

    exp = experiment(samples_per_generation="10 * t**1.5", generations=5, metrics=None)
    pred = predict(exp)
    n = sizes("10 * t**1.5", 5)
    np.testing.assert_allclose(pred[("replace", "cov_logdet_change")], growth.log_variance_change(n))
    assert not predict(experiment(samples_per_generation="10 * t", workflow=["accumulate"]))
