"""Typed models of a spec: the single source of truth for what a spec may say.

Every model forbids unknown fields and does not coerce types (``"32"`` is not 32). Layer items
are built from the layer registry, so adding a layer kind needs no change here.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    create_model,
    model_validator,
)

from modelgen.layers import REGISTRY

__all__ = [
    "Spec",
    "Data",
    "ModelSection",
    "Train",
    "Runtime",
    "Identifier",
    "layer_kind_of",
    "item_tag",
    "LAYER_ITEM_KEYS",
    "Block",
    "BlockUse",
    "BLOCK_USE_TAG",
    "MAX_REPEAT",
]

Identifier = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,63}$"),
]
#: A name inside a block (a layer's, an input's): it is always prefixed with the use's name,
#: so it may start with a digit, as Keras names the layers of its blocks (`conv2_block1_1_conv`).
LocalName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_]{1,64}$")]
PositiveFloat = Annotated[float, Field(gt=0)]
Fraction = Annotated[float, Field(ge=0, lt=1)]
MAX_SEED = 2**31 - 3


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


# ---------------------------------------------------------------- data
class InputSpec(Strict):
    """One model input: the shape of one example (no batch axis) and its dtype."""

    shape: Annotated[
        list[Annotated[int, Field(gt=0, le=1_000_000)]], Field(min_length=1, max_length=8)
    ] = Field(description="shape of one example, without the batch axis, e.g. [8, 8, 1]")
    dtype: Literal["float32", "int32"] = Field(
        "float32", description="int32 for token ids that feed an embedding"
    )


class DataCommon(Strict):
    batch_size: Annotated[int, Field(gt=0, le=65536)] = Field(32, description="examples per step")
    validation_split: Fraction = Field(
        0.0, description="fraction held out for validation: the last samples, as Keras does"
    )
    shuffle: bool = Field(True, description="reshuffle the training samples every epoch (seeded)")
    num_classes: Annotated[int, Field(ge=2, le=1_000_000)] | None = Field(
        None, description="number of label classes, checked against the model's output"
    )


class FileData(DataCommon):
    validation_path: Annotated[str, Field(min_length=1, max_length=4096)] | None = Field(
        None,
        description="a separate validation file/folder of the same format (instead of "
        "validation_split)",
    )
    data_root: Annotated[str, Field(min_length=1, max_length=4096)] | None = Field(
        None,
        description="the folder path and validation_path must lie in, symlinks followed "
        "(relative to the spec file's folder; default: the spec file's folder). Data elsewhere "
        "is refused, so a spec cannot copy other files into generated code",
    )


class NpzData(FileData):
    """Arrays from a NumPy ``.npz`` file; a relative path is relative to the spec file."""

    source: Literal["npz"] = Field(description="selects this source")
    path: Annotated[str, Field(min_length=1, max_length=4096)] = Field(
        description="the .npz file, relative to the spec file's folder"
    )
    features: Annotated[str, Field(min_length=1)] | dict[Identifier, str] = Field(
        "x", description="array name, or input name -> array name for several inputs"
    )
    labels: Annotated[str, Field(min_length=1)] | dict[Identifier, str] = Field(
        "y", description="label array name, or output name -> array name for several outputs"
    )
    sample_weights: Annotated[str, Field(min_length=1)] | None = Field(
        None,
        description="an array of one weight (a finite number >= 0) per sample: each example's "
        "loss is multiplied by it, as Keras' fit(sample_weight=...); also in the validation "
        "loss. Metrics stay unweighted",
    )


class CsvData(FileData):
    """A CSV file with a header row, one example per row; the model takes one float input."""

    source: Literal["csv"] = Field(description="selects this source")
    path: Annotated[str, Field(min_length=1, max_length=4096)] = Field(
        description="the .csv file, relative to the spec file's folder"
    )
    label: Annotated[str, Field(min_length=1)] = Field(description="the label column")
    features: list[Annotated[str, Field(min_length=1)]] | None = Field(
        None, description="feature columns (default: every column but the label)"
    )
    categorical: dict[Annotated[str, Field(min_length=1)], Literal["one_hot", "integer"]] = Field(
        {}, description="columns that hold categories, and how to encode them"
    )
    standardize: bool = Field(
        True,
        description="scale numeric columns to mean 0, std 1 with the training rows' statistics",
    )
    missing: Literal["error", "mean", "median", "constant"] = Field(
        "error",
        description="missing numeric feature cells (empty, NA, N/A, NaN, null, None): an error, "
        "or filled with the training rows' mean or median, or with fill_value",
    )
    fill_value: Annotated[float, Field(ge=-3.4e38, le=3.4e38, allow_inf_nan=False)] | None = Field(
        None, description="the value of missing numeric cells, with missing: constant"
    )

    @model_validator(mode="after")
    def _fill_value_with_constant(self) -> CsvData:
        if self.missing == "constant" and self.fill_value is None:
            raise ValueError("missing: constant needs fill_value: NUMBER")
        if self.missing != "constant" and self.fill_value is not None:
            raise ValueError(
                f"fill_value is used only with missing: constant (missing is {self.missing})"
            )
        return self


class ImageDirData(FileData):
    """A folder with one sub-folder of PNG/JPEG/BMP/GIF images per class (classes: the sorted
    folder names); images are resized and scaled to [0, 1]."""

    source: Literal["image_dir"] = Field(description="selects this source")
    path: Annotated[str, Field(min_length=1, max_length=4096)] = Field(
        description="the folder, relative to the spec file's folder"
    )
    image_size: Annotated[
        list[Annotated[int, Field(gt=0, le=4096)]], Field(min_length=2, max_length=2)
    ] = Field(description="[height, width] every image is resized to")
    color_mode: Literal["rgb", "grayscale"] = Field("rgb", description="3 or 1 channels")


class SyntheticData(DataCommon):
    """Random features and labels shaped from the model (smoke runs, tests, benchmarks)."""

    source: Literal["synthetic"] = Field(description="selects this source")
    num_samples: Annotated[int, Field(gt=0, le=1_000_000)] = Field(
        256, description="how many examples to generate"
    )


Data = Annotated[NpzData | CsvData | ImageDirData | SyntheticData, Field(discriminator="source")]


# ---------------------------------------------------------------- model
LAYER_ITEM_KEYS = ("name", "inputs")


def layer_kind_of(item: Any) -> str | None:
    """The layer kind named in a layer item: its one key that is not ``name`` or ``inputs``."""
    if not isinstance(item, dict):
        return None
    kinds = [key for key in item if key not in LAYER_ITEM_KEYS]
    return kinds[0] if len(kinds) == 1 and kinds[0] in REGISTRY else None


def _layer_item_model(kind: str) -> type[BaseModel]:
    fields: dict[str, Any] = {
        "name": (Identifier | None, Field(None, description="layer name (default: the kind)")),
        "inputs": (
            Identifier | Annotated[list[Identifier], Field(min_length=1)] | None,
            Field(None, description="input or layer name(s); default: the previous layer"),
        ),
        kind: (REGISTRY[kind].params, Field(description=REGISTRY[kind].summary)),
    }
    return create_model(f"{REGISTRY[kind].__name__}Layer", __base__=Strict, **fields)


LAYER_ITEM_MODELS = {kind: _layer_item_model(kind) for kind in REGISTRY}
#: The union tag of a block use among layer items (not a key a spec can hold by accident).
BLOCK_USE_TAG = "block use"
MAX_REPEAT = 1000
LayerInputs = Identifier | Annotated[list[Identifier], Field(min_length=1)]


class BlockUse(Strict):
    """A use of a block: it stands for the block's layers, named `<name>_<layer>` (with `repeat:
    n`, n chained instances `<name>1_<layer>` ... `<name>n_<layer>`)."""

    block: Identifier = Field(description="the block to use: a name under `blocks`")
    name: Identifier | None = Field(
        None,
        description="prefix of the layer names; later layers name the use by it (default: the "
        "block's name, then `<block>_1`, `<block>_2`...)",
    )
    inputs: LayerInputs | None = Field(
        None,
        description="one name per block input; default: the previous layer (or the only model "
        "input)",
    )
    with_: dict[Identifier, Any] = Field(
        {}, alias="with", description="parameter values: `{filters: 64}` replaces `$filters`"
    )
    repeat: Annotated[int, Field(ge=1, le=MAX_REPEAT)] = Field(
        1, description="chain this many instances, each reading the previous one's output"
    )


def item_tag(item: Any) -> str | None:
    """The union tag of a model.layers item: its layer kind, or BLOCK_USE_TAG for a block use."""
    if isinstance(item, dict) and "block" in item:
        return BLOCK_USE_TAG
    return layer_kind_of(item)


LayerItem = Annotated[
    Union[  # noqa: UP007
        tuple(Annotated[model, Tag(kind)] for kind, model in LAYER_ITEM_MODELS.items())
        + (Annotated[BlockUse, Tag(BLOCK_USE_TAG)],)
    ],
    Discriminator(
        item_tag,
        custom_error_type="layer_kind",
        custom_error_message="a layer item needs exactly one known layer kind",
    ),
]


class Block(Strict):
    """A reusable sub-graph: layers written once with `$param` values, used by `block: NAME`
    items in `model.layers` or in other blocks (see Blocks above)."""

    params: dict[Identifier, Any] = Field(
        {},
        description="parameter names and their defaults (null: the use must give it); a string "
        "`$name` anywhere in the layers becomes the value",
    )
    inputs: Annotated[list[LocalName], Field(min_length=1, max_length=64)] = Field(
        ["x"], description="the block's input names, which its layers may take"
    )
    layers: Annotated[list[dict[str, Any]], Field(min_length=1, max_length=10_000)] = Field(
        description="layer items as in model.layers (names local to the block, which may start "
        "with a digit; inputs default to the previous layer, the first to the block input) or "
        "uses of other blocks"
    )
    output: LocalName | None = Field(
        None, description="the layer whose output is the block's (default: the last)"
    )

    @model_validator(mode="after")
    def _distinct_inputs(self) -> Block:
        twice = sorted({name for name in self.inputs if self.inputs.count(name) > 1})
        if twice:
            raise ValueError(f"block input '{twice[0]}' is listed twice")
        return self


class ModelSection(Strict):
    """The network: its named inputs and the layers that read them."""

    inputs: Annotated[dict[Identifier, InputSpec], Field(min_length=1)] = Field(
        description="model inputs by name"
    )
    layers: Annotated[list[LayerItem], Field(min_length=1, max_length=10_000)] = Field(
        description="the layers, in order; see model.layers[] below"
    )
    output: Identifier | None = Field(None, description="the output layer (default: the last)")
    outputs: Annotated[list[Identifier], Field(min_length=1, max_length=64)] | None = Field(
        None,
        description="several output layers by name, each with its own loss (train.loss as a "
        "mapping output -> loss); instead of output",
    )

    @model_validator(mode="after")
    def _output_or_outputs(self) -> ModelSection:
        if self.output is not None and self.outputs is not None:
            raise ValueError("give output (one output layer) or outputs (several), not both")
        return self


# ---------------------------------------------------------------- train
class ConstantSchedule(Strict):
    """The learning rate stays at ``learning_rate`` (the default)."""

    type: Literal["constant"] = Field(description="selects this schedule")


class ExponentialSchedule(Strict):
    """``lr * decay_rate ** (step / decay_steps)`` (floored exponent with ``staircase``)."""

    type: Literal["exponential"] = Field(description="selects this schedule")
    decay_steps: Annotated[int, Field(gt=0)] = Field(
        description="steps over which the rate is multiplied by decay_rate once"
    )
    decay_rate: PositiveFloat = Field(description="factor per decay_steps steps")
    staircase: bool = Field(
        False, description="decay in whole stages (floor the exponent) instead of smoothly"
    )


class CosineSchedule(Strict):
    """Linear warm-up from ``warmup_from`` to the learning rate, then cosine decay to ``alpha``x."""

    type: Literal["cosine"] = Field(description="selects this schedule")
    decay_steps: Annotated[int, Field(gt=0)] | None = Field(
        None, description="default: every remaining training step after the warm-up"
    )
    alpha: Annotated[float, Field(ge=0, le=1)] = Field(
        0.0, description="the final learning rate, as a fraction of learning_rate"
    )
    warmup_steps: Annotated[int, Field(ge=0)] = Field(
        0, description="steps of linear warm-up before the decay (0: none)"
    )
    warmup_from: Annotated[float, Field(ge=0)] = Field(
        0.0, description="the learning rate at the first warm-up step"
    )


Schedule = Annotated[
    ConstantSchedule | ExponentialSchedule | CosineSchedule, Field(discriminator="type")
]


class OptimizerCommon(Strict):
    schedule: Schedule = Field(
        ConstantSchedule(type="constant"),
        description="how the learning rate changes over the steps; see train.optimizer.schedule",
    )
    clipnorm: PositiveFloat | None = Field(None, description="clip each gradient's norm")
    global_clipnorm: PositiveFloat | None = Field(None, description="clip the global norm")
    clipvalue: PositiveFloat | None = Field(
        None, description="clip each gradient element to [-clipvalue, clipvalue]"
    )
    weight_decay: Annotated[float, Field(ge=0)] | None = Field(
        None, description="decoupled weight decay, applied before the update"
    )

    @model_validator(mode="after")
    def _one_clipping(self) -> OptimizerCommon:
        given = [k for k in ("clipnorm", "global_clipnorm", "clipvalue") if getattr(self, k)]
        if len(given) > 1:
            raise ValueError(
                f"give at most one of clipnorm, global_clipnorm, clipvalue; got {given}"
            )
        return self


class SGD(OptimizerCommon):
    """Stochastic gradient descent, with optional (Nesterov) momentum."""

    type: Literal["sgd"] = Field(description="selects this optimizer")
    learning_rate: PositiveFloat = Field(
        0.01, description="the step size (the initial one under a schedule)"
    )
    momentum: Fraction = Field(0.0, description="momentum factor (0: plain SGD)")
    nesterov: bool = Field(False, description="use Nesterov momentum")


class Adam(OptimizerCommon):
    """Adam: steps scaled by running estimates of the gradients' first and second moments."""

    type: Literal["adam"] = Field(description="selects this optimizer")
    learning_rate: PositiveFloat = Field(
        1e-3, description="the step size (the initial one under a schedule)"
    )
    beta_1: Fraction = Field(0.9, description="decay rate of the first-moment estimate")
    beta_2: Fraction = Field(0.999, description="decay rate of the second-moment estimate")
    epsilon: PositiveFloat = Field(1e-7, description="added to the denominator for stability")
    amsgrad: bool = Field(
        False, description="use the AMSGrad variant (the maximum of past second moments)"
    )


class AdamW(Adam):
    """Adam with decoupled weight decay (on by default, as in Keras)."""

    type: Literal["adamw"] = Field(description="selects this optimizer")  # type: ignore[assignment]
    weight_decay: Annotated[float, Field(ge=0)] | None = Field(
        0.004, description="decoupled weight decay, applied before the update"
    )


class RMSprop(OptimizerCommon):
    """RMSprop: steps divided by a moving average of the squared gradients."""

    type: Literal["rmsprop"] = Field(description="selects this optimizer")
    learning_rate: PositiveFloat = Field(
        1e-3, description="the step size (the initial one under a schedule)"
    )
    rho: Fraction = Field(0.9, description="decay rate of the average of squared gradients")
    momentum: Fraction = Field(0.0, description="momentum factor (0: none)")
    epsilon: PositiveFloat = Field(1e-7, description="added to the denominator for stability")
    centered: bool = Field(
        False, description="divide by the centered second moment (an estimate of the variance)"
    )


Optimizer = Annotated[SGD | Adam | AdamW | RMSprop, Field(discriminator="type")]


class CrossentropyLoss(Strict):
    """Crossentropy for classification: labels as class ids (sparse), one-hot rows
    (categorical) or values in [0, 1] (binary)."""

    type: Literal[
        "sparse_categorical_crossentropy", "categorical_crossentropy", "binary_crossentropy"
    ] = Field(description="selects this loss")
    from_logits: bool = Field(
        False,
        description="true when the last layer outputs logits (no softmax/sigmoid); see Shapes "
        "and checks",
    )
    label_smoothing: Annotated[float, Field(ge=0, le=1)] = Field(
        0.0,
        description="categorical and binary only: labels move this far towards uniform "
        "(categorical: y * (1 - s) + s / classes; binary: towards 0.5)",
    )


class FocalLoss(Strict):
    """Keras' binary focal crossentropy: binary crossentropy times (1 - p_t)^gamma, so
    examples already classified well count less (for imbalanced labels)."""

    type: Literal["binary_focal_crossentropy"] = Field(description="selects this loss")
    from_logits: bool = Field(
        False, description="true when the last layer outputs logits (no sigmoid)"
    )
    gamma: Annotated[float, Field(ge=0, le=100)] = Field(
        2.0, description="focusing exponent (0: plain binary crossentropy)"
    )
    apply_class_balancing: bool = Field(
        False, description="weigh positives by alpha and negatives by 1 - alpha"
    )
    alpha: Annotated[float, Field(ge=0, le=1)] = Field(
        0.25, description="the positives' weight, with apply_class_balancing"
    )
    label_smoothing: Annotated[float, Field(ge=0, le=1)] = Field(
        0.0, description="labels move this far towards 0.5"
    )


class RegressionLoss(Strict):
    """Mean squared (mse) or mean absolute (mae) error, for regression."""

    type: Literal["mse", "mae"] = Field(description="selects this loss")


class HuberLoss(Strict):
    """Huber loss: quadratic within delta of the target, linear beyond (robust regression)."""

    type: Literal["huber"] = Field(description="selects this loss")
    delta: PositiveFloat = Field(1.0, description="where the loss turns from quadratic to linear")


Loss = Annotated[
    CrossentropyLoss | FocalLoss | RegressionLoss | HuberLoss, Field(discriminator="type")
]


Weight = Annotated[float, Field(allow_inf_nan=False)]  # >= 0: checked with the model
ClassId = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,7}$")]


class EarlyStopping(Strict):
    """Stop when a logged metric stops improving, as keras.callbacks.EarlyStopping."""

    monitor: Annotated[str, Field(min_length=1, max_length=200)] = Field(
        "val_loss", description="a name each epoch record logs: loss, a metric, or val_ + either"
    )
    mode: Literal["auto", "min", "max"] = Field(
        "auto", description="min or max; auto: max for accuracies, min for everything else"
    )
    patience: Annotated[int, Field(ge=0, le=100_000)] = Field(
        0, description="epochs without improvement before training stops"
    )
    min_delta: Annotated[float, Field(ge=0, le=1e30, allow_inf_nan=False)] = Field(
        0.0, description="a change smaller than this is no improvement"
    )
    baseline: Annotated[float, Field(ge=-1e30, le=1e30, allow_inf_nan=False)] | None = Field(
        None, description="the patience restarts only when the value also beats this"
    )
    start_from_epoch: Annotated[int, Field(ge=0, le=100_000)] = Field(
        0, description="epochs of warm-up in which nothing is monitored"
    )
    restore_best_weights: bool = Field(
        False, description="end with the weights of the best epoch (the last one's otherwise)"
    )


MetricName = Literal[
    "accuracy",
    "mae",
    "mse",
    "auc",
    "precision",
    "recall",
    "f1_score",
    "top_k_categorical_accuracy",
    "sparse_top_k_categorical_accuracy",
]


class AUCMetric(Strict):
    """Area under the ROC or precision-recall curve (Keras' AUC), from confusion counts at
    evenly spaced thresholds; logged as `auc`."""

    type: Literal["auc"] = Field(description="selects this metric")
    num_thresholds: Annotated[int, Field(gt=1, le=10_000)] = Field(
        200, description="thresholds used to approximate the curve"
    )
    curve: Literal["ROC", "PR"] = Field(
        "ROC", description="ROC (receiver operating characteristic) or PR (precision-recall)"
    )


class ThresholdMetric(Strict):
    """Precision or recall of the predictions above a threshold (Keras' Precision, Recall);
    logged under its type."""

    type: Literal["precision", "recall"] = Field(description="selects this metric")
    threshold: Annotated[float, Field(ge=0, le=1)] = Field(
        0.5, description="a prediction above it counts as positive"
    )


class F1Metric(Strict):
    """Keras' F1Score (the harmonic mean of precision and recall) averaged over the classes;
    logged as `f1_score`."""

    type: Literal["f1_score"] = Field(description="selects this metric")
    average: Literal["micro", "macro", "weighted"] = Field(
        "macro",
        description="micro (all classes counted together), macro (the mean of the classes' "
        "scores) or weighted (by each class's count of true labels); Keras' own default "
        "(none) gives one score per class, which is not one logged number",
    )
    threshold: Annotated[float, Field(gt=0, le=1)] | None = Field(
        None,
        description="a prediction above it counts as positive; none: each row's highest "
        "prediction (Keras' default)",
    )


class TopKMetric(Strict):
    """How often the label is among the k highest predictions (Keras'
    TopKCategoricalAccuracy for one-hot labels, SparseTopKCategoricalAccuracy for class ids);
    logged under its type."""

    type: Literal["top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy"] = Field(
        description="selects this metric (sparse_: labels as class ids)"
    )
    k: Annotated[int, Field(gt=0, le=100_000)] = Field(5, description="predictions looked at")


Metric = (
    MetricName
    | Annotated[AUCMetric | ThresholdMetric | F1Metric | TopKMetric, Field(discriminator="type")]
)


class Train(Strict):
    """How to train: epochs, optimizer, loss and metrics."""

    epochs: Annotated[int, Field(gt=0, le=100_000)] = Field(1, description="passes over the data")
    optimizer: Optimizer = Field(Adam(type="adam"), description="see train.optimizer below")
    loss: Loss | dict[Identifier, Loss] = Field(
        description="see train.loss below; with several model.outputs, output name -> loss"
    )
    loss_weights: dict[Identifier, Annotated[float, Field(ge=0, le=1e6)]] | None = Field(
        None,
        description="with several outputs: output name -> factor of its loss in the total "
        "(default 1.0 each), as Keras' compile(loss_weights=...)",
    )
    metrics: list[Metric] | dict[Identifier, list[Metric]] = Field(
        [],
        description="reported each step and epoch, next to the loss: names, or mappings with "
        "options (`{type: top_k_categorical_accuracy, k: 3}`), logged as Keras names them; "
        "with several outputs, output name -> metrics (logged as OUTPUT_METRIC, e.g. "
        "class_accuracy)",
    )
    early_stopping: EarlyStopping | None = Field(None, description="see train.early_stopping below")
    class_weight: Literal["balanced"] | list[Weight] | dict[ClassId, Weight] | None = Field(
        None,
        description="classification: each training example's loss times its class's weight, as "
        "Keras' fit(class_weight=...): a list (one weight per class), a mapping "
        "'CLASS_ID': weight (quoted ids; classes not named weigh 1.0), or balanced: "
        "n / (k * count) from the training labels (k: the classes present, as scikit-learn's "
        "compute_class_weight). Not in validation; metrics stay unweighted",
    )


# ---------------------------------------------------------------- runtime
class Runtime(Strict):
    """Where and how the generated programs run."""

    device: Annotated[str, StringConstraints(pattern=r"^(auto|cpu|gpu|gpu:[0-9]{1,2}|tpu)$")] = (
        Field(
            "auto",
            description="auto, cpu, gpu, gpu:N or tpu; auto picks a TPU (when $TPU_NAME is set "
            "or on a TPU VM), then a GPU, then the CPU",
        )
    )
    jit_compile: bool = Field(False, description="XLA-compile the train step (both targets)")
    steps_per_execution: Annotated[int, Field(gt=0, le=10_000)] = Field(
        1,
        description="steps per compiled call in both targets (same numbers, less overhead); "
        "must divide the steps per epoch",
    )
    deterministic: bool = Field(True, description="tf.config.experimental.enable_op_determinism()")

    @model_validator(mode="after")
    def _jit_needs_nondeterminism(self) -> Runtime:
        if self.jit_compile and self.deterministic:
            raise ValueError(
                "jit_compile: true needs deterministic: false (under op determinism Keras "
                "silently turns XLA off, so the two targets would not run the same program)"
            )
        return self


class Spec(Strict):
    """A whole modelgen spec."""

    name: Identifier = Field(description="the model's name (letters, digits, _)")
    seed: Annotated[int, Field(ge=0, le=MAX_SEED)] = Field(
        0, description="seeds weights, dropout and shuffling in both targets"
    )
    data: Data = Field(description="see data below")
    blocks: dict[Identifier, Block] = Field(
        {}, description="reusable sub-graphs by name, used from model.layers with `block: NAME`"
    )
    model: ModelSection = Field(description="inputs and layers")
    train: Train = Field(description="see train below")
    runtime: Runtime = Field(Runtime(), description="see runtime below")
