"""tasks.metric: which of two values is better, whether a value meets a threshold, and which model
ranks above another."""

from __future__ import annotations

from conftest import METRICS, RANKING

from {{ cookiecutter.package_name }}.tasks.metric import Metric, outranks

SCORE = Metric(higher_is_better=True, low=0.0, high=1.0)  # like accuracy or r2
LOSS = Metric(higher_is_better=False, low=0.0, high=float("inf"))  # like log_loss or rmse
BY_NAME = {"score": SCORE, "loss": LOSS}


def test_a_higher_score_is_better_and_a_tie_is_not() -> None:
    assert SCORE.direction == "maximize"
    assert SCORE.better(0.9, 0.8) and not SCORE.better(0.8, 0.9)
    assert not SCORE.better(0.8, 0.8)


def test_a_lower_loss_is_better_and_a_tie_is_not() -> None:
    assert LOSS.direction == "minimize"
    assert LOSS.better(0.2, 0.3) and not LOSS.better(0.3, 0.2)
    assert not LOSS.better(0.3, 0.3)


def test_a_value_meets_a_threshold_it_reaches_or_passes() -> None:
    assert SCORE.meets(0.81, 0.8) and SCORE.meets(0.8, 0.8) and not SCORE.meets(0.79, 0.8)
    assert LOSS.meets(0.29, 0.3) and LOSS.meets(0.3, 0.3) and not LOSS.meets(0.31, 0.3)


def test_the_first_metric_of_the_ranking_decides_and_the_next_breaks_a_tie() -> None:
    def beats(mine: dict[str, float], theirs: dict[str, float]) -> bool:
        return outranks(mine, theirs, BY_NAME, ("score", "loss"))

    assert beats({"score": 0.9, "loss": 0.5}, {"score": 0.8, "loss": 0.1})  # a worse loss: the score decides
    assert not beats({"score": 0.8, "loss": 0.1}, {"score": 0.9, "loss": 0.5})
    assert beats({"score": 0.8, "loss": 0.2}, {"score": 0.8, "loss": 0.3})  # a tie, broken by the loss
    assert not beats({"score": 0.8, "loss": 0.3}, {"score": 0.8, "loss": 0.2})
    assert not beats({"score": 0.8, "loss": 0.2}, {"score": 0.8, "loss": 0.2})  # a full tie


def test_a_metric_one_of_the_runs_lacks_is_skipped() -> None:
    """A run logged before a metric existed is ranked by the metrics both runs have."""

    def beats(mine: dict[str, float], theirs: dict[str, float]) -> bool:
        return outranks(mine, theirs, BY_NAME, ("score", "loss"))

    assert beats({"loss": 0.2}, {"score": 0.9, "loss": 0.3})
    assert not beats({"score": 0.9, "loss": 0.3}, {"loss": 0.2})
    assert not beats({"score": 0.9}, {"loss": 0.2})  # nothing in common: neither ranks above
    assert not beats({}, {})


def test_a_model_beats_another_by_the_first_ranking_metric_then_the_next() -> None:
    first, second = RANKING
    base = {first: 0.5, second: 0.5}

    def changed(name: str, step: float) -> dict[str, float]:
        """`base` with metric `name` better by `step` (worse if negative)."""
        return base | {name: base[name] + (step if METRICS[name].higher_is_better else -step)}

    def beats(mine: dict[str, float], theirs: dict[str, float]) -> bool:
        return outranks(mine, theirs, METRICS, RANKING)

    assert beats(changed(first, 0.1), base) and not beats(base, changed(first, 0.1))
    assert beats(changed(second, 0.1), base) and not beats(base, changed(second, 0.1))  # a tie broken
    assert beats(changed(first, 0.1) | {second: changed(second, -0.3)[second]}, base)  # the first decides
    assert not beats(base, base)  # a full tie does not beat
    assert not beats({first: base[first]}, changed(second, -0.1))  # a metric one run lacks is skipped
