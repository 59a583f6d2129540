"""Lower a validated Spec into a Graph: a DAG of named nodes with every shape known.

All decisions live here (names, wiring, shapes, parameter counts, seeds, how the loss is
computed), so the templates only print what this module decided.
"""

from __future__ import annotations

import hashlib
import heapq
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from modelgen._yaml import LocatedDocument, load_yaml_file
from modelgen.blocks import expand
from modelgen.datasets import DataInfo, inspect_data, resolve, shown
from modelgen.errors import Diagnostic, SpecError, did_you_mean
from modelgen.layers import REGISTRY, ShapeError, Variable
from modelgen.layers.base import RANDOM_INITIALIZERS, LayerParams, Regularizer, Shape
from modelgen.schema import spec as spec_module
from modelgen.schema import validate_document
from modelgen.schema.spec import Spec
from modelgen.units import format_bytes

__all__ = ["Graph", "Node", "InputNode", "LossPlan", "MetricPlan", "compile_file", "lower"]

MAX_PARAMS = 2_000_000_000
#: Keras builds a functional model recursively, about one Python frame per layer on the
#: longest path: 1,000 layers hit Python's recursion limit, 800 still build (measured with
#: Keras 3.15, tests/e2e/test_depth.py). Both targets are held to the same depth.
MAX_DEPTH = 800
#: No accelerator or host holds more than this for one training step (an H200 has 141 GB).
MAX_TRAINING_BYTES = 256 * 1024**3
#: The generated programs hold the whole training set in memory (as float32 or int32).
MAX_DATA_BYTES = 64 * 1024**3


@dataclass(frozen=True)
class InputNode:
    name: str
    shape: Shape
    dtype: str


@dataclass
class Node:
    """One layer: its kind, parameters, inputs and inferred output."""

    name: str
    kind: str
    params: LayerParams
    inputs: list[str]
    path: tuple[Any, ...]
    shape: Shape = ()
    dtype: str = "float32"
    variables: list[Variable] = field(default_factory=list)
    #: Seed index of each random variable initializer, and of the layer itself (dropout).
    variable_seeds: dict[str, int] = field(default_factory=dict)
    seed: int | None = None
    #: For a layer that adapts: the model input its statistics come from, and the
    #: (scale, offset) of each rescaling between that input and the layer, in order.
    adapt_input: str | None = None
    adapt_rescalings: list[tuple[float, float]] = field(default_factory=list)
    #: Padding masks (see ``_flow_masks``): the name of the ``embedding`` layer with
    #: ``mask_zero: true`` whose mask (``ids != 0``, shape (batch, steps)) this layer's input
    #: carries and the layer applies (recurrent layers skip those steps), and the one its output
    #: carries on to the next layers; None when there is none.
    mask_in: str | None = None
    mask_out: str | None = None
    #: multi_head_attention: the masks its query, value and key carry (Keras' ``query_mask``,
    #: ``value_mask``, ``key_mask``; the key's only when the key is a third input).
    attention_masks: tuple[str | None, str | None, str | None] = (None, None, None)

    @property
    def param_count(self) -> int:
        return sum(v.size for v in self.variables)

    @property
    def activation(self) -> str:
        return REGISTRY[self.kind].final_activation(self.params)

    @property
    def adapts(self) -> bool:
        """True when the layer learns its statistics from the training features (adapt)."""
        return REGISTRY[self.kind].adapts(self.params)

    @property
    def activity_regularizer(self) -> Regularizer | None:
        """The penalty on this layer's output, if its kind takes one."""
        return getattr(self.params, "activity_regularizer", None)


#: The losses of 0/1 labels on a sigmoid output.
BINARY_LOSSES = ("binary_crossentropy", "binary_focal_crossentropy")


@dataclass(frozen=True)
class MetricPlan:
    """One metric of one output, as both targets compute it."""

    #: The spec's metric type (accuracy, auc, precision, ...).
    type: str
    #: Its options with Keras' defaults filled in (num_thresholds, threshold, k, ...).
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The name Keras logs it under (its type: the metric objects carry that name)."""
        return self.type

    @property
    def stateful(self) -> bool:
        """True for metrics with their own state (confusion counts), not a running mean."""
        return self.type in ("auc", "precision", "recall", "f1_score")

    @property
    def var(self) -> str:
        """A short Python name for its per-example values in the generated code."""
        return "top_k" if self.type.endswith("top_k_categorical_accuracy") else self.type

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class LossPlan:
    """How both targets compute the loss, decided once."""

    type: str
    from_logits: bool
    #: True when the output ends in softmax/sigmoid and the loss is computed from the
    #: pre-activation logits, as Keras silently does for its own softmax/sigmoid outputs.
    on_logits: bool
    delta: float
    label_dtype: str
    label_shape: Shape
    #: The output layer this loss reads (several outputs: each has its own plan).
    output: str = ""
    #: Its factor in the total loss (None: no loss_weights given, Keras multiplies by nothing).
    weight: float | None = None
    #: The metrics reported for this output, as the spec lists them.
    metrics: tuple[MetricPlan, ...] = ()
    #: The output's class count for a crossentropy loss (0 otherwise).
    classes: int = 0
    #: The loss's other options with Keras' defaults (label_smoothing when not 0; the focal
    #: loss's gamma, alpha, apply_class_balancing and label_smoothing).
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def variant(self) -> tuple[Any, ...]:
        """What makes two outputs' losses of this type different functions (huber's delta is
        an argument instead)."""
        return (self.type, *sorted(self.options.items()))


@dataclass(frozen=True)
class StopPlan:
    """train.early_stopping as both targets apply it (Keras' EarlyStopping arguments)."""

    monitor: str
    #: "min" or "max": "auto" resolved here (max for accuracies), passed to Keras explicitly.
    mode: str
    patience: int
    min_delta: float
    baseline: float | None
    start_from_epoch: int
    restore_best_weights: bool


@dataclass
class Graph:
    spec: Spec
    spec_sha256: str
    spec_path: Path | None
    inputs: list[InputNode]
    nodes: list[Node]
    output: Node
    loss: LossPlan
    #: input name -> array name in the data file (npz) or None for synthetic data.
    features: dict[str, str]
    seeds_used: int
    data: DataInfo = field(default_factory=DataInfo)
    #: Every output layer, in the spec's order (Keras sums their losses in this order).
    outputs: list[Node] = field(default_factory=list)
    #: One loss plan per output, in the same order; ``loss`` is the first.
    losses: list[LossPlan] = field(default_factory=list)
    #: output name -> label array name in the data file (npz); empty for other sources.
    labels: dict[str, str] = field(default_factory=dict)
    #: train.class_weight as one weight per class (0, 1, ...), "balanced", or None.
    class_weight: tuple[float, ...] | str | None = None
    #: data.sample_weights: the array of per-sample loss weights in the .npz, or None.
    sample_weights: str | None = None
    #: train.early_stopping with its mode resolved ("min" or "max"), or None.
    early_stopping: StopPlan | None = None

    @property
    def class_weight_map(self) -> dict[int, float]:
        """train.class_weight as Keras' fit() takes it: class id -> weight, every class named
        (Keras looks up a class it was not given out of range)."""
        if not isinstance(self.class_weight, tuple):
            return {}
        return dict(enumerate(self.class_weight))

    @property
    def class_count(self) -> int:
        """How many classes the (only) output tells apart: 2 for one sigmoid unit."""
        return 2 if self.loss.type == "binary_crossentropy" else self.loss.classes

    @property
    def multi(self) -> bool:
        """True with several outputs: the model returns a dict, labels are a dict, each output
        has its own loss and metrics (named ``<output>_<metric>``)."""
        return len(self.outputs) > 1

    def logits_name(self, node: Node) -> str | None:
        """The variable a loss reads pre-activation logits from, when ``node`` is an output
        whose loss uses them (``logits``; ``<output>_logits`` with several outputs)."""
        for plan in self.losses or [self.loss]:
            if plan.on_logits and (plan.output or self.output.name) == node.name:
                return f"{node.name}_logits" if self.multi else "logits"
        return None

    #: The instances of blocks used in model.layers, in order (modelgen.blocks.UseSummary).
    block_uses: list[Any] = field(default_factory=list)

    @property
    def activation_bytes_per_example(self) -> int:
        """float32 bytes of every tensor one example produces in a forward pass (inputs and
        every layer's output): what training keeps for the gradient."""
        sizes = [i.shape for i in self.inputs] + [n.shape for n in self.nodes]
        return 4 * sum(math.prod(shape) for shape in sizes)

    @property
    def data_bytes(self) -> int:
        """Bytes the training examples take as model inputs (4 per value); 0 if unknown."""
        per_example = sum(math.prod(i.shape) for i in self.inputs)
        return 4 * per_example * self.data.examples

    def training_bytes(self, batch_size: int | None = None) -> int:
        """A lower bound on the memory of one training step: weights, their gradients and
        optimizer slots, plus the batch's activations and their gradients."""
        batch = batch_size or self.spec.data.batch_size
        weights = 4 * self.total_params * (2 + len(self.optimizer_slots()))
        return weights + 2 * batch * self.activation_bytes_per_example

    @property
    def total_params(self) -> int:
        return sum(n.param_count for n in self.nodes)

    @property
    def trainable_params(self) -> int:
        return sum(v.size for n in self.nodes for v in n.variables if v.trainable)

    def shape_of(self, name: str) -> Shape:
        """Output shape of a layer or model input."""
        for item in (*self.inputs, *self.nodes):
            if item.name == name:
                return item.shape
        raise KeyError(name)

    def initializers_used(self) -> set[str]:
        return {v.initializer for n in self.nodes for v in n.variables}

    @property
    def sparse_gradients(self) -> bool:
        """True when some gradient is IndexedSlices (an embedding's), which Keras' optimizers
        treat row by row."""
        return any(node.kind == "embedding" for node in self.nodes)

    @property
    def metric_names(self) -> tuple[str, ...]:
        """What both targets report each step: the loss, then the spec's metrics. With
        several outputs, as Keras logs them (sorted): ``loss``, each ``<output>_loss`` and
        ``<output>_<metric>``."""
        if not self.multi:
            return ("loss", *(m.name for m in self.loss.metrics))
        names = ["loss"] + [
            f"{p.output}_{m}" for p in self.losses for m in ("loss", *(m.name for m in p.metrics))
        ]
        return tuple(sorted(names))

    @property
    def loss_functions(self) -> dict[str, tuple[str, LossPlan]]:
        """With several outputs: output name -> (the tf target's loss function, a plan it
        stands for). One function per loss type and options (sorted by type): ``TYPE_loss``,
        then ``TYPE_loss_2``... for the same type with other options."""
        variants: dict[tuple[Any, ...], str] = {}
        for plan in sorted(self.losses, key=lambda p: p.type):
            if plan.variant not in variants:
                n = sum(v[0] == plan.type for v in variants) + 1
                variants[plan.variant] = f"{plan.type}_loss" + (f"_{n}" if n > 1 else "")
        return {p.output: (variants[p.variant], p) for p in self.losses}

    @property
    def stateful_metrics(self) -> list[tuple[str, MetricPlan, LossPlan]]:
        """(logged name, metric, its output's loss plan) for each metric with its own state
        (auc, precision, recall, f1_score), in the order of metric_names."""
        found = {
            (f"{p.output}_{m.name}" if self.multi else m.name): (m, p)
            for p in self.losses or [self.loss]
            for m in p.metrics
            if m.stateful
        }
        return [(name, *found[name]) for name in self.metric_names if name in found]

    @property
    def mean_names(self) -> tuple[str, ...]:
        """The logged names kept as running means (totals and counts): all but the metrics
        with their own state."""
        stateful = {name for name, _, _ in self.stateful_metrics}
        return tuple(name for name in self.metric_names if name not in stateful)

    def optimizer_slots(self) -> list[str]:
        """Per-variable state the optimizer keeps, in the order Keras creates it."""
        opt = self.spec.train.optimizer
        if opt.type == "sgd":
            return ["momentum"] if opt.momentum else []
        if opt.type in ("adam", "adamw"):
            return ["momentum", "velocity"] + (["velocity_hat"] if opt.amsgrad else [])
        return (
            ["velocity"]
            + (["momentum"] if opt.momentum else [])
            + (["average_gradient"] if opt.centered else [])
        )

    def regularized(self) -> list[tuple[Node, Variable]]:
        """(layer, weight) pairs with a weight penalty, in Keras' order (``model.losses``
        sums them after the activity penalties, over ``model.trainable_weights``)."""
        return [(n, v) for n in self.nodes for v in n.variables if v.trainable and v.regularizer]

    def activity_regularized(self) -> list[Node]:
        """Layers with a penalty on their output, in Keras' order (``model.layers``)."""
        return [n for n in self.nodes if n.activity_regularizer is not None]

    @property
    def id_ranges(self) -> dict[str, int]:
        """For each int32 input, the smallest vocabulary (input_dim) of the layers reading it."""
        ranges: dict[str, int] = {}
        for node in self.nodes:
            for src in node.inputs:
                if node.kind == "embedding":
                    ranges[src] = min(ranges.get(src, node.params.input_dim), node.params.input_dim)
        return {
            i.name: ranges[i.name] for i in self.inputs if i.dtype == "int32" and i.name in ranges
        }

    @property
    def data_path(self) -> Path | None:
        """Absolute path of the data file or folder, resolved against the spec's folder."""
        if self.spec.data.source == "synthetic":
            return None
        return resolve(self.spec.data.path, self.spec_path).resolve()

    @property
    def validation_path(self) -> Path | None:
        if self.spec.data.source == "synthetic" or self.spec.data.validation_path is None:
            return None
        return resolve(self.spec.data.validation_path, self.spec_path).resolve()


def compile_file(
    path: str | Path, overrides: dict[str, Any] | None = None, *, check_values: bool = True
) -> Graph:
    """Load, validate and lower a spec file (no TensorFlow involved). ``overrides`` maps
    dotted paths (``"runtime.jit_compile"``) to values that replace the spec's own;
    ``check_values`` also reads the data's values (see ``inspect_data``)."""
    doc = load_yaml_file(path)
    for dotted, value in (overrides or {}).items():
        node = doc.data
        *parents, last = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {}) if isinstance(node, dict) else node
        if isinstance(node, dict):
            node[last] = value
    doc = expand(doc)  # block uses become plain layers, still located at their lines
    spec = validate_document(doc)
    return lower(spec, doc, Path(path), check_values=check_values)


def lower(
    spec: Spec, doc: LocatedDocument, spec_path: Path | None = None, *, check_values: bool = True
) -> Graph:
    """Build the graph of ``spec``; raise SpecError listing every problem found."""
    problems: list[Diagnostic] = []
    sha = hashlib.sha256(_source_bytes(spec_path, doc)).hexdigest()

    def error(message: str, path: tuple[Any, ...], hint: str | None = None, key: bool = False):
        problems.append(Diagnostic(message, doc.where(path, key=key), hint))

    inputs = [InputNode(n, tuple(i.shape), i.dtype) for n, i in spec.model.inputs.items()]
    nodes = _name_and_wire(spec, inputs, error)
    if problems:  # wiring errors would show up again as cycles or missing inputs
        raise SpecError(problems)
    order = _topological(nodes, {i.name for i in inputs}, error)
    if problems:
        raise SpecError(problems)

    shapes = {i.name: (i.shape, i.dtype) for i in inputs}
    layers_by_name = {n.name: n for n in order}
    seed_counter = 0
    for node in order:
        if any(src not in shapes for src in node.inputs):
            continue  # an upstream layer already failed
        kind = REGISTRY[node.kind]
        in_shapes = [shapes[src][0] for src in node.inputs]
        in_dtypes = {shapes[src][1] for src in node.inputs}
        where = node.path + (node.kind,)
        if in_dtypes != {kind.input_dtype}:
            got = ", ".join(sorted(in_dtypes))
            hint = (
                "integer ids feed an `embedding` layer first"
                if "int32" in in_dtypes
                else "give the model input `dtype: int32` for token ids"
            )
            error(
                f"layer '{node.name}' ({node.kind}) needs {kind.input_dtype} input, got {got}",
                where,
                hint,
                key=True,
            )
            continue
        if kind.adapts(node.params):
            # Statistics come from the training features, rescaled as the model rescales them
            # (EfficientNet normalizes x / 255); any other layer before it would need training.
            source, rescalings = node.inputs[0], []
            while source in layers_by_name and layers_by_name[source].kind == "rescaling":
                p = layers_by_name[source].params
                rescalings.insert(0, (p.scale, p.offset))
                source = layers_by_name[source].inputs[0]
            if source in {i.name for i in inputs}:
                node.adapt_input, node.adapt_rescalings = source, rescalings
            else:
                error(
                    f"layer '{node.name}' ({node.kind}) learns from the training features, so it "
                    f"must read a model input (through rescaling layers only), not layer "
                    f"'{source}'",
                    where,
                    "put it first, on the input, or give its statistics (mean and variance)",
                    key=True,
                )
                continue
        try:
            node.shape = kind.output_shape(node.params, in_shapes)
            node.variables = kind.variables(node.params, in_shapes)
        except ShapeError as exc:
            got = " and ".join(str(list(s)) for s in in_shapes)
            error(
                f"layer '{node.name}' ({node.kind}) cannot take input of shape {got}: "
                f"{exc.message}",
                where,
                exc.hint,
                key=True,
            )
            continue
        for var in node.variables:
            if var.initializer in RANDOM_INITIALIZERS:
                seed_counter += 1
                node.variable_seeds[var.name] = seed_counter
        if kind.uses_seed:
            seed_counter += 1
            node.seed = seed_counter
        shapes[node.name] = (node.shape, "float32")
    if problems:
        raise SpecError(problems)

    by_name = {n.name: n for n in order}
    outputs = _outputs(spec, by_name, nodes[-1], error)
    if problems:
        raise SpecError(problems)
    output = outputs[0]
    _check_unused(spec, inputs, order, outputs, error)
    _flow_masks(order, outputs, error)
    if len(outputs) > 1:
        for node in order:
            if getattr(node.params, "activity_regularizer", None) is not None:
                error(
                    f"layer '{node.name}' has an activity_regularizer, which modelgen supports "
                    "only in a model with one output",
                    node.path + (node.kind, "activity_regularizer"),
                    "regularize the kernel instead (kernel_regularizer), or keep one output",
                    key=True,
                )
    order = _keras_order(order, outputs)
    total = sum(n.param_count for n in order)
    if total > MAX_PARAMS:
        error(
            f"the model has {total:,} parameters, more than modelgen's limit of {MAX_PARAMS:,}",
            ("model", "layers"),
            "use fewer units or filters",
        )
    depth = _longest_path(order)
    if depth > MAX_DEPTH:
        error(
            f"the model is {depth} layers deep along its longest path, more than the "
            f"{MAX_DEPTH} that Keras can build (it walks the layer graph recursively)",
            ("model", "layers"),
            "use fewer layers; blocks of layers that repeat still count once per layer",
        )
    sized = Graph(spec, sha, spec_path, inputs, order, output, None, {}, 0)  # type: ignore[arg-type]
    if total <= MAX_PARAMS and sized.training_bytes() > MAX_TRAINING_BYTES:
        need = sized.training_bytes()
        error(
            f"one training step needs at least {format_bytes(need)} (batch of "
            f"{spec.data.batch_size}, {format_bytes(sized.activation_bytes_per_example)} "
            f"of activations per example), more than modelgen's limit of "
            f"{format_bytes(MAX_TRAINING_BYTES)}",
            ("data", "batch_size"),
            "use a smaller batch, smaller inputs, or downsample earlier (strides, pooling)",
        )
    losses = _plan_losses(spec, outputs, error)
    loss = losses[0] if losses else None
    features = _features(spec, inputs, error)
    labels = _labels(spec, outputs, error)
    if problems:
        raise SpecError(problems)
    class_weight = _class_weight(spec, losses, error)
    classes = output.shape[-1] if output.shape else 1
    data = inspect_data(
        spec,
        spec_path,
        inputs,
        loss if len(losses) == 1 else losses,
        error,
        classes=classes,
        id_ranges=sized.id_ranges,
        check_values=check_values,
    )
    if data.classes and loss.type not in BINARY_LOSSES and len(data.classes) != classes:
        error(
            f"the data has {len(data.classes)} classes ({', '.join(map(shown, data.classes[:5]))}"
            f"{', ...' if len(data.classes) > 5 else ''}) but the output '{output.name}' has "
            f"{classes}",
            ("data", "path"),
            f"set the last layer's units to {len(data.classes)}",
        )
    if data.classes and loss.type in BINARY_LOSSES and len(data.classes) > 2:
        error(
            f"{loss.type} needs two label values, the data has {len(data.classes)}",
            ("data", "label"),
        )
    graph = Graph(spec, sha, spec_path, inputs, order, output, loss, features, seed_counter, data)
    graph.outputs, graph.losses, graph.labels = outputs, losses, labels
    graph.class_weight = class_weight
    graph.sample_weights = getattr(spec.data, "sample_weights", None)
    graph.early_stopping = _early_stopping(spec, graph.metric_names, error)
    graph.block_uses = list(getattr(doc, "uses", ()))
    if graph.data_bytes > MAX_DATA_BYTES:
        error(
            f"the training data takes {format_bytes(graph.data_bytes)} as model inputs "
            f"({data.examples:,} examples), more than modelgen's limit of "
            f"{format_bytes(MAX_DATA_BYTES)} (the programs hold the data in memory)",
            ("data", "path"),
            "use fewer examples or smaller inputs (integer encoding instead of one_hot for "
            "columns with many categories)",
        )
    if problems:
        raise SpecError(problems)
    return graph


#: Kinds that pass a padding mask on unchanged without using it (Keras: ``supports_masking``
#: and the default ``compute_mask``).
MASK_PASSES = frozenset({"dense", "dropout", "activation", "layer_norm"})
#: Kinds that use the mask: recurrent layers skip masked steps (Keras' ``rnn()`` with a mask)
#: and pass the mask on only with ``return_sequences``; global_avg_pool1d averages the kept
#: steps and ends the mask.
MASK_USERS = frozenset({"simple_rnn", "lstm", "gru", "bidirectional", "global_avg_pool1d"})
#: Kinds without mask support in Keras: it drops the mask there (with a warning) and so do we.
#: position_embedding, as keras_hub's, reads its input only for its shape.
MASK_DROPS = frozenset({"flatten", "reshape", "conv1d", "conv2d", "position_embedding"})
#: Merging layers whose values ignore the masks and whose output mask is Keras' default
#: ``Merge.compute_mask``: the OR of the inputs' masks, or none when any input has none.
MASK_MERGES = frozenset({"add", "subtract", "average"})


def _flow_masks(order: list[Node], outputs: list[Node], error) -> None:
    """Follow each ``mask_zero`` embedding's padding mask through the layers, as Keras attaches
    it to tensors: set ``mask_in``/``mask_out`` on every node it reaches. A mask reaching a
    layer that Keras would apply it in but modelgen cannot yet (batch_norm, concatenate...),
    or the model's output (Keras would weight the loss by it), is an error. Only a layer's
    first input passes its mask, as in Keras, except in ``add``/``subtract``/``average``
    (the mask survives only when every input carries it) and ``multi_head_attention``
    (it reads the query's, the value's and a separate key's masks, into
    ``attention_masks``, and its output carries the query's).

    Keras 3.15's MultiHeadAttention also clears the masks of the tensors it reads while the
    model runs, so a residual ``add`` of its query has no mask at run time, while layers that
    take a ``mask`` argument (global_avg_pool1d, the recurrent layers) still get the one
    recorded when the model was built: a second attention after a first one, or a tensor
    read by two attentions, would see masks that depend on Keras' order of execution.
    Those are refused; one masked attention per path is exact."""
    masks: dict[str, str] = {}
    #: Layers whose mask has passed a multi_head_attention (its output or a tensor it read).
    attended: set[str] = set()
    for node in order:
        if node.kind == "embedding" and node.params.mask_zero:
            node.mask_out = masks[node.name] = node.name
            continue
        incoming = [masks[src] for src in node.inputs if src in masks]
        if not incoming:
            continue
        where = node.path + (node.kind,)
        hint = (
            "put a layer that uses the mask (lstm, gru, simple_rnn, bidirectional, "
            "multi_head_attention or global_avg_pool1d) before it, "
            "or drop `mask_zero` from the embedding"
        )
        if node.kind in MASK_DROPS:
            continue
        if node.kind == "multi_head_attention":
            earlier = [src for src in node.inputs if src in masks and src in attended]
            if earlier:
                error(
                    f"layer '{node.name}' (multi_head_attention) gets the padding mask of "
                    f"embedding '{incoming[0]}' (mask_zero) after another "
                    f"multi_head_attention has used it (through '{earlier[0]}'); Keras "
                    "clears the masks of the tensors an attention reads, so what this one "
                    "would see depends on Keras' order of execution",
                    where,
                    "mask only the first attention: put the mask's user (e.g. "
                    "global_avg_pool1d) after one attention layer, or drop `mask_zero`",
                    key=True,
                )
                continue
            attended.update(src for src in node.inputs if src in masks)
            attended.add(node.name)
            query = masks.get(node.inputs[0])
            value = masks.get(node.inputs[1 if len(node.inputs) > 1 else 0])
            key = masks.get(node.inputs[2]) if len(node.inputs) > 2 else None
            node.attention_masks = (query, value, key)
            if query is not None:
                node.mask_out = masks[node.name] = query
            continue
        if node.kind in MASK_MERGES and len(incoming) < len(node.inputs):
            continue  # an input without a mask: Keras' merged output has none
        if node.kind in MASK_MERGES and len(set(incoming)) == 1:
            node.mask_out = masks[node.name] = incoming[0]  # the OR of one mask with itself
            if any(src in attended for src in node.inputs):
                attended.add(node.name)
            continue
        if node.kind not in MASK_PASSES | MASK_USERS or masks.get(node.inputs[0]) is None:
            error(
                f"layer '{node.name}' ({node.kind}) gets the padding mask of embedding "
                f"'{incoming[0]}' (mask_zero), which modelgen cannot apply there yet",
                where,
                "give its inputs the mask of one embedding, or drop `mask_zero` from all but one"
                if node.kind in MASK_MERGES
                else hint,
                key=True,
            )
            continue
        if any(src in attended for src in node.inputs):
            attended.add(node.name)
        node.mask_in = masks[node.inputs[0]]
        keeps = node.kind in MASK_PASSES or _returns_sequences(node)
        if keeps:
            node.mask_out = masks[node.name] = node.mask_in
        if node.kind in MASK_PASSES:
            node.mask_in = None  # passed on, not used
    for output in outputs:
        if output.mask_out is not None:
            error(
                f"the output '{output.name}' carries the padding mask of embedding "
                f"'{output.mask_out}' (mask_zero); Keras would weight the loss by it",
                output.path + (output.kind,),
                "end with a recurrent layer without return_sequences, or drop `mask_zero`",
                key=True,
            )


def _returns_sequences(node: Node) -> bool:
    if node.kind == "global_avg_pool1d":
        return False
    params = node.params.layer.params if node.kind == "bidirectional" else node.params
    return bool(params.return_sequences)


def _longest_path(order: list[Node]) -> int:
    """The number of layers on the longest input-to-output path (``order`` is topological)."""
    depth: dict[str, int] = {}
    for node in order:
        depth[node.name] = 1 + max((depth.get(src, 0) for src in node.inputs), default=0)
    return max(depth.values(), default=0)


def _source_bytes(spec_path: Path | None, doc: LocatedDocument) -> bytes:
    if spec_path is not None and spec_path.is_file():
        return spec_path.read_bytes()
    return repr(doc.data).encode()


def _name_and_wire(spec: Spec, inputs: list[InputNode], error) -> list[Node]:
    """Give every layer a name and its input names (default: the previous layer)."""
    items = spec.model.layers
    input_names = [i.name for i in inputs]
    taken = set(input_names)
    explicit: dict[str, int] = {}
    for index, item in enumerate(items):
        path = ("model", "layers", index)
        if item.name is None:
            continue
        if item.name in taken:
            first = explicit.get(item.name)
            where = f"layer {first}" if first is not None else "a model input"
            error(
                f"name '{item.name}' is already used by {where}",
                path + ("name",),
                "give every layer and input its own name",
            )
        taken.add(item.name)
        explicit[item.name] = index
    counts: dict[str, int] = {}
    nodes: list[Node] = []
    for index, item in enumerate(items):
        kind = next(k for k in type(item).model_fields if k in REGISTRY)
        name = item.name
        if name is None:  # Keras-style automatic names: dense, dense_1, dense_2...
            while True:
                n = counts.get(kind, 0)
                counts[kind] = n + 1
                name = kind if n == 0 else f"{kind}_{n}"
                if name not in taken:
                    break
            taken.add(name)
        path = ("model", "layers", index)
        if item.inputs is None:
            if index > 0:
                sources = [nodes[-1].name]
            elif len(input_names) == 1:
                sources = input_names
            else:
                error(
                    f"layer '{name}' must say which of the inputs {input_names} it takes",
                    path,
                    "add `inputs: [name, ...]` to it",
                )
                sources = []
        else:
            sources = [item.inputs] if isinstance(item.inputs, str) else list(item.inputs)
        kind_cls = REGISTRY[kind]
        n_in = len(sources)
        if sources and (
            n_in < kind_cls.min_inputs or (kind_cls.max_inputs and n_in > kind_cls.max_inputs)
        ):
            want = (
                f"{kind_cls.min_inputs} or more"
                if kind_cls.max_inputs is None
                else str(kind_cls.min_inputs)
            )
            error(
                f"layer '{name}' ({kind}) takes {want} input(s), got {n_in}",
                path + (("inputs",) if item.inputs is not None else ()),
                "list its inputs with `inputs: [a, b]`" if kind_cls.min_inputs > 1 else None,
            )
        nodes.append(Node(name, kind, getattr(item, kind), sources, path))
    known = set(input_names) | {n.name for n in nodes}
    for node in nodes:
        for j, src in enumerate(node.inputs):
            if src not in known:
                item_inputs = spec.model.layers[node.path[-1]].inputs
                where = node.path + ("inputs",) + ((j,) if isinstance(item_inputs, list) else ())
                hint = did_you_mean(src, known) or f"known names: {', '.join(sorted(known))}"
                error(f"layer '{node.name}' takes input '{src}', which is not defined", where, hint)
            elif src == node.name:
                error(f"layer '{node.name}' takes itself as input", node.path + ("inputs",))
    return nodes


def _topological(nodes: list[Node], input_names: set[str], error) -> list[Node]:
    """Order nodes so every layer comes after its inputs (stable, Kahn's algorithm)."""
    index = {n.name: i for i, n in enumerate(nodes)}
    waiting = {n.name: {s for s in n.inputs if s in index} for n in nodes}
    users: dict[str, list[str]] = {n.name: [] for n in nodes}
    for node in nodes:
        for src in waiting[node.name]:
            users[src].append(node.name)
    ready = [i for i, n in enumerate(nodes) if not waiting[n.name]]
    heapq.heapify(ready)
    order: list[Node] = []
    while ready:
        node = nodes[heapq.heappop(ready)]
        order.append(node)
        for user in users[node.name]:
            waiting[user].discard(node.name)
            if not waiting[user]:
                heapq.heappush(ready, index[user])
    if len(order) < len(nodes):
        stuck = [n for n in nodes if waiting[n.name]]
        cycle = [n.name for n in stuck]
        error(
            "the layers form a cycle through " + ", ".join(cycle),
            stuck[0].path + ("inputs",),
            "a layer may only take layers that do not depend on it",
        )
    return order


def _keras_order(order: list[Node], outputs: list[Node]) -> list[Node]:
    """The layers in the order Keras' functional API lists them (``map_graph``): by decreasing
    depth from the outputs, ties broken by first visit in a depth-first walk from the outputs
    (several outputs: walked in sorted name order, as Keras flattens the dict of outputs).
    Weight lists, gradient clipping and regularization sums follow this order, so the tf target
    must too. It is a valid topological order."""
    by_name = {n.name: n for n in order}
    first_visit: dict[str, int] = {}
    finished: list[str] = []

    inputs_of = {name: node.inputs for name, node in by_name.items()}
    done: set[str] = set()
    for output in sorted(outputs, key=lambda node: node.name):
        if output.name in done:
            continue
        first_visit.setdefault(output.name, len(first_visit))
        _walk(output.name, inputs_of, first_visit, finished, done)
    depth: dict[str, int] = {}
    for name in reversed(finished):
        here = depth.setdefault(name, 0)
        for src in by_name[name].inputs if name in by_name else ():
            depth[src] = max(here + 1, depth.get(src, 0))
    layers = [name for name in finished if name in by_name]
    layers.sort(key=lambda name: (-depth[name], first_visit[name]))
    return [by_name[name] for name in layers]


def _walk(start: str, inputs_of, first_visit, finished: list[str], done: set[str]) -> None:
    """Keras' ``_build_map`` depth-first walk from ``start``, appending finished layers."""
    stack = [(start, iter(inputs_of[start]))]
    while stack:  # iterative depth-first walk (deep chains exceed Python's recursion limit)
        name, pending = stack[-1]
        for src in pending:
            if src not in done:
                first_visit.setdefault(src, len(first_visit))
                stack.append((src, iter(inputs_of.get(src, ()))))
                break
        else:
            stack.pop()
            if name not in done:
                done.add(name)
                finished.append(name)


def _check_unused(
    spec: Spec, inputs: list[InputNode], order: list[Node], outputs: list[Node], error
) -> None:
    by_name = {n.name: n for n in order}
    used: set[str] = set()
    stack = [o.name for o in outputs]
    output = outputs[0] if len(outputs) == 1 else None
    while stack:
        name = stack.pop()
        if name in used:
            continue
        used.add(name)
        if name in by_name:
            stack.extend(by_name[name].inputs)
    for node in order:
        if node.name not in used:
            error(
                f"layer '{node.name}' does not lead to the output '{output.name}'"
                if output
                else f"layer '{node.name}' does not lead to any of the outputs "
                + ", ".join(f"'{o.name}'" for o in outputs),
                node.path,
                "remove it, or use it as the input of a later layer"
                + ("" if output else ", or list it in model.outputs"),
            )
    for inp in inputs:
        if inp.name not in used:
            error(
                f"model input '{inp.name}' is never used",
                ("model", "inputs", inp.name),
                "remove it, or list it in a layer's `inputs:`",
                key=True,
            )


def _outputs(spec: Spec, by_name: dict[str, Node], last: Node, error) -> list[Node]:
    """The output layers: model.outputs, else model.output, else the last layer."""
    names = spec.model.outputs or [spec.model.output or last.name]
    found: list[Node] = []
    for i, name in enumerate(names):
        if name in names[:i]:
            error(f"model.outputs lists '{name}' twice", ("model", "outputs", i))
        elif name in by_name:
            found.append(by_name[name])
            continue
        where = ("model", "outputs", i) if spec.model.outputs else ("model", "output")
        hint = did_you_mean(name, by_name) or f"layers: {', '.join(sorted(by_name))}"
        error(f"the output '{name}' is not a layer", where, hint)
    for node in found:
        if len(found) > 1 and (node.name == "val" or node.name.startswith("val_")):
            error(
                f"the output '{node.name}' would log its loss as '{node.name}_loss', which "
                "reads as a validation metric (val_...)",
                ("model", "outputs", names.index(node.name)),
                "rename the layer",
            )
        taken = f"{node.name}_logits"
        if len(found) > 1 and taken in by_name:
            error(
                f"a layer named '{taken}' clashes with the logits of the output '{node.name}'",
                by_name[taken].path + ("name",),
                "rename that layer",
            )
    return found


def _plan_losses(spec: Spec, outputs: list[Node], error) -> list[LossPlan]:
    """One loss plan per output, checking that train.loss, loss_weights and metrics name the
    outputs (a mapping per output name; one loss or metrics list for a single output)."""
    train, names = spec.train, [o.name for o in outputs]
    several = len(outputs) > 1
    hint_outputs = f"the outputs are {', '.join(names)}"

    def per_output(value: Any, field: str) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            return None
        for key in value:
            if key not in names:
                error(
                    f"train.{field} names '{key}', which is not a model output",
                    ("train", field, key),
                    did_you_mean(key, names) or hint_outputs,
                    key=True,
                )
        return value

    losses = per_output(train.loss, "loss")
    metrics = per_output(train.metrics, "metrics")
    weights = per_output(train.loss_weights, "loss_weights")
    if weights is not None and not several:
        error(
            "train.loss_weights needs several model.outputs",
            ("train", "loss_weights"),
            "list the output layers in `model.outputs: [a, b]`, or remove loss_weights",
            key=True,
        )
    if several and not isinstance(train.metrics, dict) and train.metrics:
        error(
            "with several outputs, give the metrics per output",
            ("train", "metrics"),
            "metrics: {" + ", ".join(f"{n}: [METRIC]" for n in names) + "}",
        )
    plans = []
    for node in outputs:
        if losses is None:
            loss, where = train.loss, ("train", "loss")
        elif node.name in losses:
            loss, where = losses[node.name], ("train", "loss", node.name)
        else:
            error(
                f"the output '{node.name}' has no loss",
                ("train", "loss"),
                f"add `{node.name}: {{type: ...}}` to train.loss",
            )
            continue
        if metrics is None:
            wanted, metrics_where = train.metrics if not several else [], ("train", "metrics")
        else:
            wanted, metrics_where = metrics.get(node.name, []), ("train", "metrics", node.name)
        weight = None if weights is None else float(weights.get(node.name, 1.0))
        plan = _plan_loss(spec, loss, node, where, wanted, metrics_where, error)
        classes = node.shape[-1] if node.shape and loss.type.endswith("crossentropy") else 0
        plans.append(replace(plan, output=node.name, weight=weight, classes=classes))
    return plans


def _early_stopping(spec: Spec, names: tuple[str, ...], error) -> StopPlan | None:
    """train.early_stopping, its monitor checked against what each epoch record logs."""
    stop = spec.train.early_stopping
    if stop is None:
        return None
    data = spec.data
    validated = data.validation_split > 0 or getattr(data, "validation_path", None) is not None
    logged = [*names, *(f"val_{n}" for n in names if validated)]
    if stop.monitor not in logged:
        unvalidated = not validated and stop.monitor.startswith("val_")
        hint = did_you_mean(stop.monitor, logged) or f"the epochs log {', '.join(logged)}"
        if unvalidated:
            hint = "set data.validation_split (e.g. 0.2), or monitor the training loss: loss"
        error(
            f"early_stopping monitors '{stop.monitor}', which the epochs do not log"
            + (" (no validation data)" if unvalidated else ""),
            ("train", "early_stopping", "monitor"),
            hint,
        )
        return None
    mode = stop.mode
    if mode == "auto":  # Keras: accuracies go up, losses and errors down
        mode = "max" if stop.monitor.endswith("accuracy") else "min"
    return StopPlan(
        stop.monitor,
        mode,
        stop.patience,
        float(stop.min_delta),
        None if stop.baseline is None else float(stop.baseline),
        stop.start_from_epoch,
        stop.restore_best_weights,
    )


def _class_weight(spec: Spec, losses: list[LossPlan], error) -> tuple[float, ...] | str | None:
    """train.class_weight as one weight per class, checked against the loss and the data as
    Keras' fit() would take it (it refuses several outputs and class + sample weights)."""
    wanted, where = spec.train.class_weight, ("train", "class_weight")
    several = len(losses) > 1
    if getattr(spec.data, "sample_weights", None) is not None and several:
        error(
            "data.sample_weights with several outputs is not supported",
            ("data", "sample_weights"),
            "use one output, or drop data.sample_weights",
        )
    if wanted is None:
        return None
    if several:
        error(
            "class_weight needs a model with one output (Keras' fit() refuses it for several)",
            where,
            "drop train.class_weight, or weigh the samples of one output's loss",
        )
        return None
    plan = losses[0]
    if not plan.type.endswith("crossentropy"):
        error(
            f"class_weight needs a classification loss, not {plan.type}",
            where,
            "use data.sample_weights (npz) to weigh the examples of a regression",
        )
        return None
    if plan.type == "binary_crossentropy" and plan.label_shape[-1:] not in ((), (1,)):
        error(
            "class_weight needs one class per example, but binary_crossentropy here has "
            f"{plan.label_shape[-1]} labels per example (multi-label)",
            where,
            "use one sigmoid unit, or softmax with categorical crossentropy",
        )
        return None
    if getattr(spec.data, "sample_weights", None) is not None:
        error(
            "class_weight and data.sample_weights cannot be used together (Keras' fit() "
            "refuses both at once)",
            where,
            "fold the class weights into the sample weights array",
        )
        return None
    classes = 2 if plan.type == "binary_crossentropy" else plan.classes
    if wanted == "balanced":
        return "balanced"
    given = wanted.items() if isinstance(wanted, dict) else enumerate(wanted)
    bad = [(key, weight) for key, weight in given if not 0 <= weight <= 1e6]
    for key, weight in bad:
        error(
            f"class_weight gives class {key} the weight {weight}; weights must lie in [0, 1e6]",
            where + (key,),
            "a weight scales its class's loss: 0 ignores the class, 1 leaves it as it is",
        )
    if bad:
        return None
    if isinstance(wanted, list):
        if len(wanted) != classes:
            error(
                f"class_weight lists {len(wanted)} weights but the output has {classes} classes",
                where,
                f"give one weight per class ({classes}), or a mapping {{'1': 3.0}}",
            )
            return None
        return tuple(float(w) for w in wanted)
    weights = [1.0] * classes
    for key, weight in wanted.items():
        if int(key) >= classes:
            error(
                f"class_weight names class {key}, but the output has {classes} classes "
                f"(0 to {classes - 1})",
                where + (key,),
                "class ids count from 0, in the order of the output's units",
                key=True,
            )
            continue
        weights[int(key)] = float(weight)
    return tuple(weights)


def _plan_loss(
    spec: Spec,
    loss: Any,
    output: Node,
    where: tuple[Any, ...],
    metrics: list[str],
    metrics_where: tuple[Any, ...],
    error,
) -> LossPlan:
    shape, act = output.shape, output.activation
    from_logits = getattr(loss, "from_logits", False)
    num_classes = spec.data.num_classes
    on_logits = False
    if loss.type in ("sparse_categorical_crossentropy", "categorical_crossentropy"):
        classes = shape[-1] if shape else 0
        if classes < 2:
            error(
                f"{loss.type} needs an output with a class axis, but the output "
                f"'{output.name}' has shape {list(shape)}",
                where,
                "end the model with `- dense: {units: NUM_CLASSES}`",
            )
        elif num_classes is not None and classes != num_classes:
            error(
                f"the output '{output.name}' has {classes} classes but data.num_classes is "
                f"{num_classes}",
                ("data", "num_classes"),
                f"set the units of the layer '{output.name}' to {num_classes}",
            )
        on_logits = _check_activation(loss.type, from_logits, act, "softmax", output, where, error)
        label_dtype, label_shape = (
            ("int32", shape[:-1]) if loss.type.startswith("sparse") else ("float32", shape)
        )
    elif loss.type in BINARY_LOSSES:
        on_logits = _check_activation(loss.type, from_logits, act, "sigmoid", output, where, error)
        label_dtype, label_shape = "float32", shape
    else:
        if act in ("softmax", "sigmoid"):
            pass  # bounded regression targets are legitimate
        label_dtype, label_shape = "float32", shape
    _check_loss_options(loss, where, error)
    delta = getattr(loss, "delta", 1.0)
    plan = LossPlan(loss.type, from_logits, on_logits, delta, label_dtype, tuple(label_shape))
    options = {
        k: v
        for k, v in loss.model_dump(exclude={"type", "from_logits", "delta"}).items()
        if loss.type == "binary_focal_crossentropy" or k != "label_smoothing" or v
    }
    return replace(
        plan,
        options=options,
        metrics=_plan_metrics(loss, output, metrics, metrics_where, error, len(where) > 2),
    )


def _check_loss_options(loss: Any, where: tuple[Any, ...], error) -> None:
    """Options that Keras would refuse or silently ignore."""
    if loss.type == "sparse_categorical_crossentropy" and loss.label_smoothing:
        error(
            "label_smoothing needs one-hot labels, but sparse_categorical_crossentropy takes "
            "class ids (Keras' SparseCategoricalCrossentropy has no label_smoothing)",
            where + ("label_smoothing",),
            "use categorical_crossentropy with one-hot labels, or remove label_smoothing",
        )
    if (
        loss.type == "binary_focal_crossentropy"
        and "alpha" in loss.model_fields_set
        and not loss.apply_class_balancing
    ):
        error(
            "alpha is used only with apply_class_balancing: true (Keras ignores it otherwise)",
            where + ("alpha",),
            "add `apply_class_balancing: true`, or remove alpha",
        )


#: Default options of the metrics that take some, from the schema's models.
_METRIC_MODELS = {
    "auc": spec_module.AUCMetric,
    "precision": spec_module.ThresholdMetric,
    "recall": spec_module.ThresholdMetric,
    "f1_score": spec_module.F1Metric,
    "top_k_categorical_accuracy": spec_module.TopKMetric,
    "sparse_top_k_categorical_accuracy": spec_module.TopKMetric,
}


def _plan_metrics(
    loss: Any, output: Node, metrics: list[Any], where: tuple[Any, ...], error, named: bool
) -> tuple[MetricPlan, ...]:
    """The output's metrics with their options, checked against its loss and labels (`named`:
    the errors name the output, as with several outputs)."""
    plans: list[MetricPlan] = []
    for i, metric in enumerate(metrics):
        if isinstance(metric, str):
            model = _METRIC_MODELS.get(metric)
            metric = model(type=metric) if model else metric
        kind = metric if isinstance(metric, str) else metric.type
        options = {} if isinstance(metric, str) else metric.model_dump(exclude={"type"})
        problem = _metric_problem(kind, options, loss, output, named)
        if problem:
            error(problem[0], where + (i,), problem[1])
        elif kind in (p.type for p in plans):
            error(
                f"the metric '{kind}' is listed twice (Keras would log both under one name)",
                where + (i,),
                "keep one of them",
            )
        else:
            plans.append(MetricPlan(kind, options))
    return tuple(plans)


def _metric_problem(
    kind: str, options: dict[str, Any], loss: Any, output: Node, named: bool
) -> tuple[str, str] | None:
    """(message, hint) when the metric does not fit the output's loss and labels."""
    of = f" (the output '{output.name}' has {loss.type})" if named else f" (not {loss.type})"
    if kind == "accuracy" and not named:
        of = ""
    if kind == "accuracy" and not loss.type.endswith("crossentropy"):
        return "metric 'accuracy' needs a crossentropy loss" + of, "use mae or mse for regression"
    if kind.endswith("top_k_categorical_accuracy"):
        labels = (
            "sparse_categorical_crossentropy"
            if kind.startswith("sparse")
            else ("categorical_crossentropy")
        )
        if loss.type != labels:
            other = kind.removeprefix("sparse_") if kind.startswith("sparse") else "sparse_" + kind
            hint = (
                f"use {other}"
                if loss.type.endswith("categorical_crossentropy")
                else ("use it with a (sparse_)categorical_crossentropy loss")
            )
            return f"metric '{kind}' needs the labels of {labels}" + of, hint
        classes = output.shape[-1] if output.shape else 1
        if options["k"] > classes:
            return (
                f"metric '{kind}' has k {options['k']} but the output '{output.name}' has "
                f"{classes} classes",
                f"set k to at most {classes}",
            )
    if kind in ("auc", "precision", "recall", "f1_score"):
        if loss.type not in (*BINARY_LOSSES, "categorical_crossentropy"):
            return (
                f"metric '{kind}' needs binary_crossentropy or categorical_crossentropy labels"
                + of,
                "one-hot labels (categorical_crossentropy) or 0/1 labels (binary_crossentropy)"
                if loss.type == "sparse_categorical_crossentropy"
                else "use mae or mse for regression",
            )
        if getattr(loss, "from_logits", False):
            return (
                f"metric '{kind}' reads probabilities, but the output '{output.name}' gives "
                "logits (from_logits: true)",
                f"add `activation: {'sigmoid' if loss.type.startswith('binary') else 'softmax'}` "
                f"to the layer '{output.name}' and set from_logits: false (the loss still "
                "uses the logits, as Keras does)",
            )
        if kind == "f1_score" and len(output.shape) != 1:
            return (
                f"metric 'f1_score' needs an output of shape (batch, classes), but the output "
                f"'{output.name}' has shape {list(output.shape)}",
                "flatten or pool the output, or use precision and recall",
            )
    return None


def _check_activation(
    loss: str,
    from_logits: bool,
    act: str,
    expected: str,
    output: Node,
    where: tuple[Any, ...],
    error,
) -> bool:
    """Check the output's activation against from_logits; True when the loss uses logits."""
    if from_logits and act in ("softmax", "sigmoid"):
        error(
            f"{loss} has from_logits: true but the output '{output.name}' ends in {act}",
            where + ("from_logits",),
            f"drop `activation: {act}` from the layer '{output.name}', or set from_logits: false",
        )
        return False
    if not from_logits and act != expected:
        error(
            f"{loss} has from_logits: false but the output '{output.name}' ends in {act}, "
            "so it gives logits, not probabilities",
            where,
            f"set `from_logits: true` (recommended) or add `activation: {expected}` "
            f"to the layer '{output.name}'",
        )
        return False
    return not from_logits


def _features(spec: Spec, inputs: list[InputNode], error) -> dict[str, str]:
    data = spec.data
    if data.source != "npz":
        return {}
    if isinstance(data.features, str):
        if len(inputs) > 1:
            error(
                "the model has several inputs; map each to an array",
                ("data", "features"),
                "features: {" + ", ".join(f"{i.name}: ARRAY" for i in inputs) + "}",
            )
            return {}
        return {inputs[0].name: data.features}
    names = {i.name for i in inputs}
    for key in data.features:
        if key not in names:
            error(
                f"data.features names '{key}', which is not a model input",
                ("data", "features", key),
                did_you_mean(key, names),
                key=True,
            )
    for name in names - set(data.features):
        error(f"data.features gives no array for the model input '{name}'", ("data", "features"))
    return dict(data.features)


def _labels(spec: Spec, outputs: list[Node], error) -> dict[str, str]:
    """output name -> label array (npz); several outputs need a label source per output."""
    data, names = spec.data, [o.name for o in outputs]
    if len(outputs) > 1 and data.source in ("csv", "image_dir"):
        error(
            f"several outputs ({', '.join(names)}) need labels per output, which a "
            f"{data.source} source cannot give",
            ("data", "source"),
            "store the features and one label array per output in an .npz file: "
            "`source: npz` with `labels: {" + ", ".join(f"{n}: ARRAY" for n in names) + "}`",
        )
        return {}
    if data.source != "npz":
        return {}
    if isinstance(data.labels, str):
        if len(outputs) > 1:
            error(
                "the model has several outputs; map each to its label array",
                ("data", "labels"),
                "labels: {" + ", ".join(f"{n}: ARRAY" for n in names) + "}",
            )
            return {}
        return {names[0]: data.labels}
    for key in data.labels:
        if key not in names:
            error(
                f"data.labels names '{key}', which is not a model output",
                ("data", "labels", key),
                did_you_mean(key, names) or f"the outputs are {', '.join(names)}",
                key=True,
            )
    for name in names:
        if name not in data.labels:
            error(
                f"data.labels gives no array for the output '{name}'",
                ("data", "labels"),
                f"add `{name}: ARRAY` (the name of its label array in the .npz)",
            )
    return {name: data.labels[name] for name in names if name in data.labels}
