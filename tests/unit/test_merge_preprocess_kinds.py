"""Shape rules of the elementwise merges and the preprocessing kinds (Keras' rules, whose
agreement with Keras itself tests/e2e/test_keras_agreement.py and the equivalence cases run)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from modelgen.layers import REGISTRY, ShapeError
from modelgen.layers.merging import broadcast
from modelgen.layers.preprocessing import NormalizationParams


@pytest.mark.parametrize(
    ("shapes", "expected"),
    [
        ([(4, 4, 3), (1, 1, 3)], (4, 4, 3)),  # squeeze-and-excite channel weights
        ([(4, 4, 3), (3,)], (4, 4, 3)),  # lower rank: aligned on the last axis
        ([(1, 4, 1), (3, 1, 2)], (3, 4, 2)),  # both sides broadcast
        ([(4,), (1,), (3, 1)], (3, 4)),  # three inputs, folded in order
        ([(5,), ()], (5,)),  # a scalar per example
    ],
)
def test_broadcast_follows_keras(shapes, expected):
    assert broadcast(shapes) == expected


@pytest.mark.parametrize("shapes", [[(4, 4, 3), (3, 2)], [(6,), (4,)], [(2, 3), (3,), (2,)]])
def test_broadcast_refuses_sizes_that_differ_and_are_not_1(shapes):
    with pytest.raises(ShapeError, match="do not broadcast"):
        broadcast(shapes)


def test_subtract_takes_exactly_two_inputs_and_the_others_any_number():
    assert (REGISTRY["subtract"].min_inputs, REGISTRY["subtract"].max_inputs) == (2, 2)
    for kind in ("multiply", "average", "maximum", "minimum"):
        assert (REGISTRY[kind].min_inputs, REGISTRY[kind].max_inputs) == (2, None)


def test_normalization_learns_three_non_trainable_weights_or_none():
    kind = REGISTRY["normalization"]
    learned = NormalizationParams(axis=1)
    variables = kind.variables(learned, [(3, 4)])
    assert [(v.name, v.shape, v.trainable) for v in variables] == [
        ("mean", (3,), False),
        ("variance", (3,), False),
        ("count", (), False),
    ]
    assert kind.adapts(learned)
    given = NormalizationParams(mean=[0.0, 1.0, 2.0, 3.0], variance=[1.0, 1.0, 1.0, 1.0])
    assert kind.variables(given, [(3, 4)]) == [] and not kind.adapts(given)
    assert kind.output_shape(NormalizationParams(mean=[1.0], variance=[2.0]), [(3, 4)]) == (3, 4)
    with pytest.raises(ShapeError, match="3 entries, axis -1 has 4"):
        kind.output_shape(NormalizationParams(mean=[0.0] * 3, variance=[1.0] * 3), [(3, 4)])
    with pytest.raises(ShapeError, match="out of range"):
        kind.output_shape(NormalizationParams(axis=3), [(3, 4)])


@pytest.mark.parametrize(
    "fields",
    [
        {"mean": 1.0},
        {"variance": [1.0]},
        {"mean": [1.0, 2.0], "variance": [1.0]},
        {"mean": 1.0, "variance": [1.0]},
        {"mean": 0.0, "variance": -1.0},
        {"mean": float("nan"), "variance": 1.0},
    ],
)
def test_normalization_refuses_inconsistent_statistics(fields):
    with pytest.raises(ValidationError):
        NormalizationParams(**fields)
