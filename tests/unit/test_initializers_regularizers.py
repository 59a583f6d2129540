"""Initializer and regularizer values: names and mappings, Keras' defaults, what each target
prints (the numbers themselves are compared in tests/e2e/test_equivalence.py)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from modelgen.layers.base import (
    RANDOM_INITIALIZERS,
    Regularizer,
    Variable,
    initializer_parts,
)
from modelgen.layers.dense import DenseParams


def dense(**fields) -> DenseParams:
    return DenseParams.model_validate({"units": 4, **fields})


def test_a_mapping_and_a_name_give_the_same_initializer_with_keras_defaults_filled_in():
    mapping = dense(kernel_initializer={"variance_scaling": {"mode": "fan_out"}})
    name, args = initializer_parts(mapping.kernel_initializer)
    assert name == "variance_scaling"
    assert args == (("scale", 1.0), ("mode", "fan_out"), ("distribution", "truncated_normal"))
    assert initializer_parts("variance_scaling")[1][1] == ("mode", "fan_in")
    assert initializer_parts("glorot_uniform") == ("glorot_uniform", ())


def test_a_variable_keeps_the_name_and_gives_keras_only_the_arguments_that_differ():
    p = dense(kernel_initializer={"orthogonal": {"gain": 0.5}})
    var = Variable("kernel", (3, 4), p.kernel_initializer)
    assert var.initializer == "orthogonal" and var.init_args == (("gain", 0.5),)
    assert var.keras_init_args == (("gain", 0.5),)
    assert Variable("kernel", (3, 4), "orthogonal").keras_init_args == ()
    assert Variable("kernel", (3, 4), "zeros").init_args == ()


def test_every_parameterised_or_random_initializer_gets_a_seed_and_constants_do_not():
    assert {"orthogonal", "variance_scaling", "lecun_normal", "uniform"} <= RANDOM_INITIALIZERS
    assert not {"zeros", "ones"} & RANDOM_INITIALIZERS


@pytest.mark.parametrize(
    "fields",
    [
        {"kernel_initializer": {"variance_scaling": {"mode": "fan_sum"}}},
        {"kernel_initializer": {"variance_scaling": {"scale": 0.0}}},
        {"kernel_initializer": {"orthogonal": {}, "random_normal": {}}},
        {"kernel_initializer": "xavier"},
        {"bias_initializer": "orthogonal"},
        {"kernel_regularizer": {"l1": -0.1}},
        {"kernel_regularizer": {}},
        {"l2": 0.1, "kernel_regularizer": {"l2": 0.1}},
        {"use_bias": False, "bias_regularizer": {"l2": 0.1}},
    ],
)
def test_bad_initializers_and_regularizers_are_refused(fields):
    with pytest.raises(ValidationError):
        dense(**fields)


def test_regularizers_follow_keras_classes_and_terms():
    assert Regularizer(l1=0.1).keras_class == "L1"
    assert Regularizer(l2=0.1).keras_class == "L2"
    both = Regularizer(l1=0.1, l2=0.2)
    assert both.keras_class == "L1L2" and both.terms == [("l1", 0.1), ("l2", 0.2)]
    # L1L2 adds only the nonzero factors; L1 and L2 always compute theirs
    assert Regularizer(l1=0.0, l2=0.2).terms == [("l2", 0.2)]
    assert Regularizer(l1=0.0, l2=0.0).terms == []
    assert Regularizer(l2=0.0).terms == [("l2", 0.0)]


def test_the_l2_shorthand_is_a_kernel_regularizer():
    p = dense(l2=0.01)
    assert p.kernel_penalty == Regularizer(l2=0.01)
    assert Variable("kernel", (3, 4), "glorot_uniform", l2=0.01).regularizer == Regularizer(l2=0.01)
