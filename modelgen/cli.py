"""The `modelgen` command line: thin typer commands over the library functions."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from modelgen import VERIFIED_KERAS, VERIFIED_TENSORFLOW, __version__
from modelgen.errors import ModelgenError, SpecError

app = typer.Typer(
    name="modelgen",
    help="Compile one YAML model spec into equivalent Keras 3 and low-level TensorFlow code.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
state = {"debug": False}

SpecArg = Annotated[
    Path, typer.Argument(help="The YAML spec file.", show_default=False, dir_okay=False)
]


def _version(value: bool) -> None:
    if value:
        typer.echo(
            f"modelgen {__version__} (verified with TensorFlow {VERIFIED_TENSORFLOW}, "
            f"Keras {VERIFIED_KERAS})"
        )
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    state["debug"] = debug


def _fail(exc: ModelgenError) -> typer.Exit:
    if state["debug"]:
        raise exc
    message = exc.format() if isinstance(exc, SpecError) else f"error: {exc}"
    typer.echo(message, err=True)
    return typer.Exit(exc.exit_code)


@app.command()
def validate(
    spec: Annotated[
        # Not click's checks: the loader says precisely what is wrong (folder, FIFO, device...).
        Path, typer.Argument(help="The YAML spec file.", show_default=False, readable=False)
    ],
    output_format: Annotated[
        str,
        typer.Option(
            "--format", help="text (a table) or json (layers, shapes, parameter counts, errors)."
        ),
    ] = "text",
) -> None:
    """Check a spec and print its layers, output shapes and parameter counts."""
    import json

    from modelgen.graph import compile_file
    from modelgen.summary import errors_json, summary, summary_json

    if output_format not in ("text", "json"):
        raise _fail(ModelgenError(f"--format must be text or json, not {output_format!r}"))
    try:
        graph = compile_file(spec)
    except ModelgenError as exc:
        if output_format == "json" and not state["debug"]:
            typer.echo(json.dumps(errors_json(exc), indent=2))
            raise typer.Exit(exc.exit_code) from None
        raise _fail(exc) from None
    if output_format == "json":
        typer.echo(json.dumps(summary_json(graph), indent=2))
        return
    typer.echo(summary(graph))
    for note in graph.data.notes:
        typer.echo(f"note: {note}", err=True)
    typer.echo(f"{spec}: ok")


@app.command()
def build(
    spec: Annotated[
        Path, typer.Argument(help="The YAML spec file.", show_default=False, readable=False)
    ],
    target: Annotated[str, typer.Option("--target", "-t", help="keras or tf.")] = "keras",
    output: Annotated[
        str | None,  # not Path: a trailing '/' (a folder to create) must survive
        typer.Option(
            "--output",
            "-o",
            metavar="PATH",
            help="Write here: a file, a folder (DIR or DIR/: writes train_<target>.py in it) "
            "or a device such as /dev/null (default: print to stdout).",
        ),
    ] = None,
    check: Annotated[
        bool, typer.Option("--check", help="Exit 1 if OUTPUT differs from what would be generated.")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an edited OUTPUT.")] = False,
) -> None:
    """Generate the training program for a target (keras or tf)."""
    import shlex

    from modelgen.build import (
        check_output,
        generate,
        output_folder,
        resolve_output,
        stdout_folder,
        write_generated,
    )

    try:
        if check and output is None:
            raise ModelgenError("--check needs -o FILE to compare against")
        path = resolve_output(output, target, spec) if output is not None else None
        # Data paths are written relative to the file's folder: -o's, or that of the file
        # stdout is redirected to; else (a pipe, a terminal) relative to the current folder.
        out_dir = output_folder(path) if path is not None else stdout_folder()
        graph, code = generate(spec, target, out_dir)
        if check:
            state = check_output(path, code)
            if state == "current":
                typer.echo(f"{path} is up to date")
                return
            command = shlex.join(["modelgen", "build", str(spec), "-t", target, "-o", str(output)])
            advice = {
                "missing": f"{path} does not exist: run `{command}`",
                "stale": f"{path} is out of date: run `{command}`",
                "edited": f"{path} is out of date and was edited by hand (it is not modelgen's "
                f"unedited output), so build keeps it unless forced: move the edits into the "
                f"spec, then run `{command} --force` (this discards the file's edits)",
            }[state]
            typer.echo(advice, err=True)
            raise typer.Exit(1)
        if path is None:
            try:
                sys.stdout.write(code)
                sys.stdout.flush()
            except BrokenPipeError:
                import os

                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
                raise ModelgenError(
                    "stdout was closed before the whole program was written"
                ) from None
            if out_dir is None and graph.data_path is not None:
                typer.echo(
                    "note: stdout is not a file, so data paths are relative to the current "
                    f"folder ({Path.cwd()}); use -o FILE to make them relative to FILE's folder",
                    err=True,
                )
            return
        written = write_generated(path, code, force=force)
    except ModelgenError as exc:
        raise _fail(exc) from None
    typer.echo(f"wrote {written} ({target} target)", err=True)


TargetOption = Annotated[
    str | None, typer.Option("--target", "-t", help="keras or tf (default keras).")
]
DeviceOption = Annotated[
    str | None, typer.Option("--device", help="auto, cpu, gpu, gpu:N or tpu (default: the spec's).")
]
EpochsOption = Annotated[int | None, typer.Option("--epochs", min=1, help="Override the epochs.")]
StepsOption = Annotated[
    int | None, typer.Option("--max-steps", min=0, help="Stop after this many updates.")
]
RunsOption = Annotated[Path, typer.Option("--runs-dir", help="Where run folders go.")]
TpuTimeoutOption = Annotated[
    float | None,
    typer.Option("--tpu-timeout", min=1, help="Seconds to wait for a TPU to answer (default 120)."),
]


@app.command("run")
def run_command(
    spec: Annotated[
        Path | None, typer.Argument(help="The YAML spec file.", show_default=False, dir_okay=False)
    ] = None,
    target: TargetOption = None,
    device: DeviceOption = None,
    epochs: EpochsOption = None,
    max_steps: StepsOption = None,
    runs_dir: Annotated[
        Path | None, typer.Option("--runs-dir", help="Where run folders go (default runs).")
    ] = None,
    tpu_timeout: TpuTimeoutOption = None,
    checkpoint_every: Annotated[
        int | None,
        typer.Option(
            "--checkpoint-every", min=0, help="Steps between checkpoints (0: each epoch end)."
        ),
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option("--batch-size", min=1, help="Override the batch size.")
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", min=0, help="Override the seed.")] = None,
    data: Annotated[
        Path | None, typer.Option("--data", help="Train on this data instead of the spec's.")
    ] = None,
    resume_dir: Annotated[
        Path | None,
        typer.Option(
            "--resume",
            help="Continue this run folder from its latest checkpoint (--epochs, --max-steps, "
            "--device, --checkpoint-every and --tpu-timeout may change).",
            file_okay=False,
        ),
    ] = None,
    trust_run_dir: Annotated[
        bool,
        typer.Option(
            "--trust-run-dir",
            help="With --resume: run the folder's train.py even if it is not modelgen's "
            "unedited output for its spec.yaml (it runs as you).",
        ),
    ] = False,
) -> None:
    """Generate, run and time a training program; write run.json, metrics.csv, curves.png."""
    from modelgen.runner import check_device, format_summary, resume, run

    try:
        check_device(device)  # before anything else, TensorFlow above all
        if resume_dir is not None:
            if spec is not None:
                raise ModelgenError("give a spec to run or --resume RUN_DIR, not both")
            if runs_dir is not None:
                raise ModelgenError("--runs-dir does not apply to --resume (it names the folder)")
            summary = resume(
                resume_dir,
                device=device,
                epochs=epochs,
                max_steps=max_steps,
                checkpoint_every=checkpoint_every,
                tpu_timeout=tpu_timeout,
                target=target,
                batch_size=batch_size,
                seed=seed,
                data=data,
                trust=trust_run_dir,
            )
        elif spec is None:
            raise ModelgenError("give a spec to run, or --resume RUN_DIR")
        elif trust_run_dir:
            raise ModelgenError("--trust-run-dir applies to --resume only")
        else:
            summary = run(
                spec,
                target or "keras",
                device=device,
                epochs=epochs,
                max_steps=max_steps,
                runs_dir=runs_dir or Path("runs"),
                checkpoint_every=checkpoint_every or 0,
                tpu_timeout=tpu_timeout,
                batch_size=batch_size,
                seed=seed,
                data=data,
            )
    except ModelgenError as exc:
        raise _fail(exc) from None
    typer.echo(format_summary(summary))
    if summary.status == "interrupted":
        # 128 + the signal that stopped it: 130 for Ctrl-C, 143 for SIGTERM
        codes = {"SIGTERM": 143, "SIGHUP": 129}
        raise typer.Exit(codes.get(summary.stopped_by or "", 130))


@app.command("bench")
def bench_command(
    spec: SpecArg,
    targets: Annotated[
        str, typer.Option("--targets", help="Comma-separated targets.")
    ] = "keras,tf",
    repeat: Annotated[int, typer.Option("--repeat", min=1, help="Runs per target.")] = 3,
    max_steps: StepsOption = None,
    epochs: EpochsOption = None,
    jit: Annotated[bool, typer.Option("--jit", help="XLA-compile both targets' steps.")] = False,
    device: DeviceOption = None,
    tpu_timeout: TpuTimeoutOption = None,
    runs_dir: RunsOption = Path("runs"),
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the table as JSON here.")
    ] = None,
) -> None:
    """Run the targets interleaved and compare step time, throughput and memory."""
    import json

    from modelgen.runner import bench, check_device, format_bench

    try:
        check_device(device)  # before anything else, TensorFlow above all
        table = bench(
            spec,
            [t for t in targets.split(",") if t],
            repeat=repeat,
            max_steps=max_steps,
            epochs=epochs,
            jit=jit,
            runs_dir=runs_dir,
            device=device,
            tpu_timeout=tpu_timeout,
        )
    except ModelgenError as exc:
        raise _fail(exc) from None
    typer.echo(format_bench(table))
    path = output or runs_dir / "bench.json"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(table, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise _fail(ModelgenError(f"cannot write {path}: {exc.strerror or exc}")) from None
    typer.echo(f"saved {path}")


@app.command("templates")
def list_templates() -> None:
    """List the project templates `modelgen new` can create."""
    from modelgen.scaffold import PROJECT_TEMPLATES

    width = max(map(len, PROJECT_TEMPLATES))
    for name, template in PROJECT_TEMPLATES.items():
        shape = ",".join(map(str, template.default_shape))
        typer.echo(f"{name.ljust(width)}  {template.description} (input shape {shape})")


def _ask(value, question: str, default, kind=str):
    """Prompt for a missing value only when a person is at the terminal; else the default."""
    if value is not None:
        return value
    if sys.stdin.isatty():
        return typer.prompt(question, default=default, type=kind)
    return default


@app.command("new")
def new_command(
    folder: Annotated[
        str, typer.Argument(help="The project folder: any path, ~ expanded; not a symlink.")
    ],
    template: Annotated[
        str | None, typer.Option("--template", help="See `modelgen templates`.")
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="The model's name.")] = None,
    num_classes: Annotated[
        int | None, typer.Option("--num-classes", help="Classes to predict (default 3).")
    ] = None,
    input_shape: Annotated[
        str | None, typer.Option("--input-shape", help="e.g. 32,32,3 for images, 8 for tables.")
    ] = None,
    target: Annotated[
        str | None, typer.Option("--target", help="Also write train_<target>.py (keras or tf).")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Write into a non-empty folder (template files only).")
    ] = False,
) -> None:
    """Create a project: a documented spec, sample data, a README and a test."""
    import os
    import re
    import shlex

    from modelgen.scaffold import PROJECT_TEMPLATES, create_project, project_name_for

    try:
        template = _ask(template, f"template ({', '.join(PROJECT_TEMPLATES)})", "image-classifier")
        if template not in PROJECT_TEMPLATES:
            raise ModelgenError(
                f"unknown template {template!r}; choose one of " + ", ".join(PROJECT_TEMPLATES)
            )
        chosen = PROJECT_TEMPLATES[template]
        name = _ask(name, "model name", project_name_for(folder))
        if chosen.classes:
            num_classes = _ask(num_classes, "number of classes", 3, int)
        default_shape = ",".join(map(str, chosen.default_shape))
        shape_text = _ask(input_shape, "input shape", default_shape)
        pieces = [x.strip() for x in str(shape_text).strip("[]() ").split(",")]
        if len(pieces) > 1 and not pieces[-1]:
            pieces.pop()  # "8," as a Python tuple is written
        if not all(re.fullmatch(r"-?[0-9]+", x) for x in pieces):
            raise ModelgenError(
                f"--input-shape {shape_text!r} is not a list of whole numbers separated by "
                f"commas, e.g. {default_shape}"
            )
        shape = tuple(int(x) for x in pieces)
        if target is not None and target not in ("keras", "tf"):
            raise ModelgenError(f"unknown target {target!r}: expected keras or tf")
        written = create_project(
            folder,
            template,
            name=name,
            num_classes=3 if num_classes is None else num_classes,
            input_shape=shape,
            target=target,
            force=force,
        )
    except ModelgenError as exc:
        raise _fail(exc) from None
    root = next(p for p in written if p.name == "spec.yaml").parent
    shown = [p for p in written if p.relative_to(root).parts[0] != "data"]
    samples = len(written) - len(shown)
    verb = "replaced or wrote" if force else "wrote"
    typer.echo(f"{verb} {len(written)} files in {os.path.join(root, '')}:")
    for path in shown:
        typer.echo(f"  {path}")
    typer.echo(f"  and {samples} sample data file(s) under {os.path.join(root / 'data', '')}")
    typer.echo(f"next: cd {shlex.quote(str(root))} && modelgen run spec.yaml --target keras")


@app.command()
def schema(
    check: Annotated[
        bool, typer.Option("--check", help="Exit 1 if the committed schema file is stale.")
    ] = False,
) -> None:
    """Print the JSON Schema of a spec (for editors such as yaml-language-server)."""
    from modelgen.schema import SCHEMA_PATH, json_schema

    text = json_schema()
    if check:
        current = SCHEMA_PATH.read_text(encoding="utf-8") if SCHEMA_PATH.exists() else ""
        if current != text:
            typer.echo(f"{SCHEMA_PATH} is stale: run `modelgen schema > {SCHEMA_PATH}`", err=True)
            raise typer.Exit(1)
        typer.echo(f"{SCHEMA_PATH} is up to date")
        return
    sys.stdout.write(text)


@app.command("layers")
def list_layers() -> None:
    """List the layer kinds a spec may use, with an example of each."""
    from modelgen.layers import REGISTRY

    width = max(map(len, REGISTRY))
    for kind, cls in sorted(REGISTRY.items()):
        typer.echo(f"{kind.ljust(width)}  {cls.summary}")
        typer.echo(f"{''.ljust(width)}  e.g. - {kind}: {cls.example}")


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
