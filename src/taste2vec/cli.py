"""The ``taste2vec`` command line: a thin Typer layer over the package.

Exit codes: 0 success, 2 bad input or usage, 3 model missing or unusable,
4 dataset missing or unreadable, 1 anything unexpected.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markdown import Markdown
from rich.table import Table

from taste2vec.config import Settings
from taste2vec.errors import DataError, ModelError, SchemaError, Taste2VecError

app = typer.Typer(
    help="Taste2Vec: learn people's taste in coffee as a 128-d taste vector.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)

DataDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Research datasets folder (coffeereview/, cqi/). Default: T2V_DATA_DIR, "
        "else ../shared/datasets when it exists.",
    ),
]
ModelOpt = Annotated[Path | None, typer.Option("--model", help="Model directory.")]


def _settings(data_dir: Path | None = None, no_data: bool = False) -> Settings:
    settings = Settings()
    if no_data:
        return settings.model_copy(update={"data_dir": None})
    if data_dir is not None:
        if not data_dir.is_dir():
            raise DataError(f"--data-dir {data_dir} is not a directory")
        return settings.model_copy(update={"data_dir": data_dir})
    return settings


def _fail(exc: Taste2VecError) -> typer.Exit:
    code = 2 if isinstance(exc, SchemaError) else 4 if isinstance(exc, DataError) else 3
    if not isinstance(exc, ModelError | DataError | SchemaError):
        code = 1
    err.print(f"[bold red]error:[/] {exc}", highlight=False)
    return typer.Exit(code)


@app.command()
def train(
    out_dir: Annotated[Path, typer.Option("--out", help="Where to write the model.")] = Path(
        "artifacts/model"
    ),
    data_dir: DataDirOpt = None,
    no_data_dir: Annotated[
        bool, typer.Option("--bundled-only", help="Train on bundled data only.")
    ] = False,
    epochs: Annotated[int, typer.Option(min=1, max=1000)] = 60,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same model.")] = 13,
    review_limit: Annotated[
        int | None, typer.Option(min=10, help="Use only the newest N reviews (quick runs).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
) -> None:
    """Train a Taste2Vec model and save it as a directory."""
    from taste2vec.model.taste2vec import text_encoder_for
    from taste2vec.training.corpus import build_corpus
    from taste2vec.training.train import TrainConfig
    from taste2vec.training.train import train as fit

    try:
        settings = _settings(data_dir, no_data_dir)
        corpus = build_corpus(settings.data_dir, review_limit=review_limit)
        err.print(
            f"training on {len(corpus.train)} records, validating on {len(corpus.val)} "
            f"(sources: {corpus.sources}; data dir: {settings.data_dir or 'none, bundled only'})"
        )
        result = fit(
            corpus,
            text_encoder_for(settings),
            TrainConfig(epochs=epochs, seed=seed),
            progress=not quiet,
        )
        result.model.save(out_dir, corpus.info(), result.metrics())
    except Taste2VecError as exc:
        raise _fail(exc) from exc
    err.print(f"saved model to {out_dir} (best epoch {result.best_epoch}, {result.seconds:.0f} s)")


@app.command()
def evaluate(
    model: ModelOpt = None,
    data_dir: DataDirOpt = None,
    results: Annotated[
        Path | None, typer.Option(help="Also write the tables into this markdown file.")
    ] = Path("bench/RESULTS.md"),
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    if_data: Annotated[
        bool,
        typer.Option(
            "--if-data",
            help="Without a data directory, print the model's validation metrics and exit 0.",
        ),
    ] = False,
    family_gold: Annotated[
        Path | None,
        typer.Option(
            help="Hand-labelled flavour families (review ids + labels) to score (c) against; "
            "default tests/data/family_gold.csv when it exists.",
        ),
    ] = None,
) -> None:
    """Evaluate a model against baselines on the time-split Coffee Review data."""
    from taste2vec.evaluation.report import update_section
    from taste2vec.evaluation.run import DEFAULT_FAMILY_GOLD, render_markdown
    from taste2vec.evaluation.run import evaluate as run_evaluation
    from taste2vec.model.taste2vec import Taste2Vec

    try:
        settings = _settings(data_dir)
        if settings.data_dir is None and if_data:
            _print_validation(model or settings.model_dir)
            return
        if settings.data_dir is None:
            raise DataError(
                "evaluation needs the Coffee Review data, which is never bundled: set "
                "T2V_DATA_DIR or --data-dir to a folder holding coffeereview/"
            )
        if family_gold is not None and not family_gold.is_file():
            raise DataError(f"--family-gold {family_gold}: no such file")
        if family_gold is None and DEFAULT_FAMILY_GOLD.is_file():
            family_gold = DEFAULT_FAMILY_GOLD
        loaded = Taste2Vec.load(model or settings.model_dir, settings)
        result = run_evaluation(
            loaded, settings.data_dir, progress=not as_json, family_gold=family_gold
        )
    except Taste2VecError as exc:
        raise _fail(exc) from exc
    command = "taste2vec evaluate --model " + str(model or settings.model_dir)
    text = render_markdown(result, command)
    if as_json:
        out.print_json(json.dumps(result.to_dict()))
    else:
        out.print(Markdown(text))
    if results is not None:
        update_section(results, "evaluation", text)
        err.print(f"wrote {results}")


def _print_validation(path: Path) -> None:
    from taste2vec.model.artifact import read_config, read_json

    read_config(path)
    metrics = read_json(path / "metrics.json")
    best = metrics.get("best", {})
    table = Table(title=f"model {path}: validation on held-out bundled records")
    table.add_column("loss term")
    table.add_column("value", justify="right")
    for key, value in sorted(best.items()):
        if key.startswith("val_"):
            table.add_row(key.removeprefix("val_"), f"{value:.4f}")
    out.print(table)
    out.print(
        "No data directory is configured, so the Coffee Review evaluation was skipped. "
        "Point T2V_DATA_DIR at a folder holding coffeereview/ and run: taste2vec evaluate"
    )


def _read_records(source: str) -> Iterator[tuple[int, Any]]:
    """Yield (line number, parsed JSON) from a file or stdin: one object, a list, or JSONL."""
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise SchemaError(f"cannot read {source}: {exc}") from exc
    stripped = text.strip()
    if not stripped:
        raise SchemaError(f"{source}: no input; expected a JSON record or JSON Lines")
    try:
        whole = json.loads(stripped)
    except json.JSONDecodeError:
        whole = None
    if isinstance(whole, list):
        yield from ((i + 1, item) for i, item in enumerate(whole))
        return
    if whole is not None:
        yield 1, whole
        return
    for lineno, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                yield lineno, json.loads(line)
            except json.JSONDecodeError as exc:
                raise SchemaError(f"line {lineno}: not valid JSON ({exc.msg})") from exc


@app.command()
def embed(
    source: Annotated[str, typer.Argument(help="A JSON or JSON Lines file of records, or -.")],
    model: ModelOpt = None,
) -> None:
    """Embed tasting records: prints JSON with `embedding` (128 floats) and `explanation`.

    A single JSON object gives one JSON object; JSON Lines (or a JSON list) give
    one output line per record, in input order.
    """
    from taste2vec.model.taste2vec import Taste2Vec
    from taste2vec.schema import parse_record

    try:
        settings = _settings()
        items = list(_read_records(source))
        records = []
        for lineno, item in items:
            try:
                records.append(parse_record(item))
            except SchemaError as exc:
                raise SchemaError(f"record {lineno}: {exc}", exc.errors) from exc
        loaded = Taste2Vec.load(model or settings.model_dir, settings)
        emb, why = loaded.encode(records)
    except Taste2VecError as exc:
        raise _fail(exc) from exc
    single = len(items) == 1 and source != "-" and not _looks_like_lines(source)
    for rec, vec, ex in zip(records, emb, why, strict=True):
        payload = {
            "id": rec.id,
            "embedding": [round(float(v), 6) for v in vec],
            "explanation": ex.to_dict(),
        }
        sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2 if single else None))
        sys.stdout.write("\n")


def _looks_like_lines(source: str) -> bool:
    return source.endswith((".jsonl", ".ndjson"))


@app.command()
def lexicon(
    text: Annotated[str, typer.Argument(help="Tasting-note text (English or Korean), or -.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show the flavour-wheel descriptors and structure cues found in a text."""
    from taste2vec.lexicon import load_lexicon

    body = sys.stdin.read() if text == "-" else text
    lex = load_lexicon()
    found = lex.extract(body)
    attrs = lex.attributes(body)
    if as_json:
        payload = {
            "descriptors": [
                {
                    "path": d.node.path,
                    "family": d.node.family,
                    "weight": d.weight,
                    "surface": d.surface,
                }
                for d in found
            ],
            "attributes": attrs,
            "families": dict(
                zip(lex.families, lex.family_distribution(body).tolist(), strict=True)
            ),
            "rendered": lex.render_english(body),
        }
        sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
        return
    table = Table(title=f"lexicon {lex.version}")
    for col in ("found", "descriptor", "한국어", "family", "weight"):
        table.add_column(col)
    for d in found:
        table.add_row(d.surface, d.node.name, d.node.name_ko, d.node.family, f"{d.weight:.2f}")
    out.print(table)
    if attrs:
        out.print("structure cues: " + ", ".join(f"{k} {v:+.1f}" for k, v in attrs.items()))
    if not found and not attrs:
        out.print("no descriptors found")


@app.command()
def export(
    fmt: Annotated[
        str,
        typer.Option("--format", help="tflite, onnx, or all (tflite and onnx, fp32 and int8)."),
    ] = "onnx",
    int8: Annotated[bool, typer.Option("--int8", help="Dynamic int8 quantization.")] = False,
    model: ModelOpt = None,
    data_dir: DataDirOpt = None,
    no_data_dir: Annotated[
        bool, typer.Option("--bundled-only", help="Gate on bundled records only.")
    ] = False,
    gate_records: Annotated[
        int, typer.Option(min=10, help="Held-out records the parity gate compares.")
    ] = 200,
    alias: Annotated[
        list[str] | None, typer.Option(help="Aliases to point at this model (default: latest).")
    ] = None,
) -> None:
    """Export an edge bundle (TFLite or ONNX), gate it on parity, register it.

    The bundle is written to <model dir's parent>/edge/<model_version>/<format>.t2vb
    and served at GET /v1/models/edge/{alias}?format=... only when the torch-free
    runtime matches the cloud model on held-out records; otherwise exit code 3.
    """
    from taste2vec.edge.export import ParityError, export_bundle
    from taste2vec.edge.parity import bundled_gate_records, edge_case_records, held_out_records
    from taste2vec.edge.registry import EdgeRegistry
    from taste2vec.edge.spec import format_name
    from taste2vec.model.taste2vec import Taste2Vec

    if fmt == "all":
        if int8:
            raise typer.BadParameter("--int8 goes with --format tflite or onnx, not all")
        formats = ["onnx", "onnx-int8", "tflite", "tflite-int8"]
    else:
        try:
            formats = [format_name(fmt, int8)]
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--format") from exc
    failed = False
    try:
        settings = _settings(data_dir, no_data_dir)
        model_dir = model or settings.model_dir
        loaded = Taste2Vec.load(model_dir, settings)
        if settings.data_dir is not None:
            records = held_out_records(settings.data_dir, gate_records) + edge_case_records()
            source = f"{len(records)} held-out Coffee Review records + edge cases"
        else:
            records = bundled_gate_records(gate_records)
            source = f"{len(records)} bundled demo records + edge cases (no data dir)"
        registry = EdgeRegistry.beside(model_dir)
        for name in formats:
            err.print(f"exporting {name} …")
            try:
                result = export_bundle(
                    loaded, model_dir, name, registry, records, source, alias or ["latest"]
                )
            except ParityError as exc:
                err.print(f"[bold red]refused:[/] {exc}", highlight=False)
                failed = True
                continue
            err.print(result.report.summary(), highlight=False)
            out.print(
                f"{result.path}  {result.size / 1e6:.1f} MB  sha256 {result.sha256[:16]}…  "
                f"model {result.model_version}",
                highlight=False,
            )
    except Taste2VecError as exc:
        raise _fail(exc) from exc
    if failed:
        raise typer.Exit(3)


@app.command()
def serve(
    model: ModelOpt = None,
    host: Annotated[str | None, typer.Option(help="Bind address (default T2V_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default T2V_PORT, 8000).")] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="Server processes on this port (uvicorn workers). They share the store and "
            "the event log like any replicas; with the embedded stream worker on, one "
            "process consumes and the others stand by.",
        ),
    ] = 1,
) -> None:
    """Serve the HTTP API, its docs (/docs) and the web UI (/) with uvicorn."""
    import uvicorn

    from taste2vec.api import create_app

    settings = Settings()
    updates: dict[str, Any] = {}
    if model is not None:
        updates["model_dir"] = model
    if host is not None:
        updates["host"] = host
    if port is not None:
        updates["port"] = port
    settings = settings.model_copy(update=updates)
    if not (settings.model_dir / "config.json").is_file():
        err.print(f"[bold red]error:[/] no model at {settings.model_dir}; run: make run")
        raise typer.Exit(3)
    err.print(
        f"serving on http://{settings.host}:{settings.port} (API docs at /docs); "
        f"demo keys: {settings.model_dir.parent / 'demo-keys.json'}"
    )
    if workers == 1:
        uvicorn.run(
            create_app(settings),
            host=settings.host,
            port=settings.port,
            log_level="info",
            access_log=settings.access_log,
        )
        return
    # Each worker process builds its own app from the environment: pass the overrides on.
    os.environ["T2V_MODEL_DIR"] = str(settings.model_dir)
    uvicorn.run(
        "taste2vec.api.app:create_app",
        factory=True,
        workers=workers,
        host=settings.host,
        port=settings.port,
        log_level="info",
        access_log=settings.access_log,
    )


@app.command()
def stream(
    log_url: Annotated[
        str | None,
        typer.Option("--log", help="Event log URL (default T2V_EVENT_LOG_URL, embedded SQLite)."),
    ] = None,
    state: Annotated[
        Path | None,
        typer.Option("--state", help="Stream state file (default T2V_STREAM_STATE)."),
    ] = None,
    group: Annotated[str, typer.Option(help="Consumer group.")] = "taste2vec-stream",
    once: Annotated[
        bool, typer.Option("--once", help="Catch up with the log as it is now, then exit.")
    ] = False,
    drain: Annotated[
        bool,
        typer.Option(
            "--drain", help="With --once: make every window final at the end (bounded input)."
        ),
    ] = False,
    allowed_lateness: Annotated[
        float, typer.Option(min=0, help="Seconds a window stays open past the watermark.")
    ] = 3600.0,
    out_of_orderness: Annotated[
        float, typer.Option(min=0, help="Watermark = max event time - this many seconds.")
    ] = 300.0,
    checkpoint_interval: Annotated[
        float, typer.Option(min=0.01, help="Seconds between checkpoints (at most).")
    ] = 0.5,
    max_keys: Annotated[
        int,
        typer.Option(
            min=1,
            help="Keyed states kept in memory per aggregate (users, coffees, arms), shared "
            "among the worker's partitions; the others are read from the state file when "
            "needed.",
        ),
    ] = 50_000,
) -> None:
    """Run the stream worker: windows, signals and A/B metrics from the event log.

    Runs until interrupted (Ctrl-C checkpoints and exits 0), or with --once until it
    has consumed what the log held at the start. Progress goes to stderr.
    """
    import signal
    import threading

    from taste2vec.errors import StoreError
    from taste2vec.stream.log import open_log
    from taste2vec.stream.worker import StreamWorker

    settings = Settings()
    if drain and not once:
        raise typer.BadParameter("--drain needs --once", param_hint="--drain")
    logging.getLogger("taste2vec.stream").setLevel(logging.INFO)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        log = open_log(log_url or settings.event_log_url_value())
        worker = StreamWorker(
            log,
            state or settings.stream_state_path(),
            group=group,
            checkpoint_interval_s=checkpoint_interval,
            allowed_lateness_s=allowed_lateness,
            out_of_orderness_s=out_of_orderness,
            max_clock_skew_s=settings.max_clock_skew_s,
            max_keys=max_keys,
        )
        try:
            try:
                stats = worker.run(
                    stop, until_end=once, drain=drain, progress_every_s=None if once else 10.0
                )
            except KeyboardInterrupt:
                stats = worker.run(stop=_set(stop))  # checkpoint what was processed
        finally:
            worker.close()
            log.close()
    except StoreError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(1) from exc
    except Taste2VecError as exc:
        raise _fail(exc) from exc
    err.print(
        f"processed {stats['entries']} entries in {stats.get('seconds', 0.0):.1f} s "
        f"({stats['checkpoints']} checkpoints)"
    )


def _set(event: Any) -> Any:
    event.set()
    return event


@app.command("flink-job")
def flink_job(
    events: Annotated[
        Path, typer.Option("--events", help="JSON-lines event file (encode_event's wire form).")
    ],
    out: Annotated[Path, typer.Option("--out", help="Where to write the window rows (JSONL).")],
    python: Annotated[
        Path | None,
        typer.Option(
            "--python",
            help="Interpreter with PyFlink (default T2V_FLINK_PYTHON, else .venv-flink).",
        ),
    ] = None,
    dead_letters: Annotated[
        Path | None,
        typer.Option(
            "--dead-letters",
            help="Where to write the invalid lines with their reasons (JSONL).",
        ),
    ] = None,
    parallelism: Annotated[int, typer.Option(min=1, help="Flink parallelism.")] = 1,
    timeout: Annotated[float, typer.Option(min=1, help="Seconds before giving up.")] = 600.0,
) -> None:
    """Compute the windowed aggregates with the Flink SQL job on a local mini-cluster.

    The same rows as the embedded worker (coffee_daily, user_weekly, arm_hourly; see
    docs/stream.md), and the same invalid lines dead-lettered with a reason.
    PyFlink runs from its own venv: `make .venv-flink/.installed`.
    """
    from taste2vec.stream.flink import run_flink

    try:
        result = run_flink(
            events,
            out,
            python,
            dead_letters_path=dead_letters,
            parallelism=parallelism,
            timeout_s=timeout,
        )
    except Taste2VecError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(1) from exc
    counts: dict[str, int] = {}
    for row in result.rows:
        counts[row["aggregate"]] = counts.get(row["aggregate"], 0) + 1
    summary = ", ".join(f"{name} {n}" for name, n in sorted(counts.items())) or "no rows"
    err.print(f"{len(result.rows)} rows ({summary}) in {result.wall_s:.1f} s -> {out}")
    if result.dead_letters:
        where = f" -> {dead_letters}" if dead_letters is not None else ""
        err.print(f"{len(result.dead_letters)} dead letters (invalid lines){where}")


@app.command("ui-account")
def ui_account(
    name: Annotated[str, typer.Argument(help="The name to sign in with.")],
    admin: Annotated[
        bool, typer.Option("--admin", help="An operator account (the console), no user.")
    ] = False,
    user_id: Annotated[
        str | None,
        typer.Option("--user-id", help="The user a taster account acts as (default: NAME)."),
    ] = None,
) -> None:
    """Create a web UI account or set its password (T2V_UI_PASSWORD, else prompted).

    The password is stored as an argon2 hash in the store at T2V_DATABASE_URL.
    """
    from taste2vec.service.accounts import Accounts
    from taste2vec.store import Role, create_store

    password = os.environ.get("T2V_UI_PASSWORD") or typer.prompt(
        "password", hide_input=True, confirmation_prompt=True
    )
    role: Role = "admin" if admin else "user"
    try:
        with create_store(Settings().database_url) as store:
            Accounts(store).set_password(name, password, role, None if admin else (user_id or name))
    except ValueError as exc:  # a bad name, user id or password length (SchemaError too)
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from None
    out.print(f"web UI account {name!r} ({role}) saved")


# ------------------------------------------------------------------- model registry
model_app = typer.Typer(
    help="The model registry (MLflow at T2V_REGISTRY_URI): register versions, move the "
    "champion/challenger aliases, read the audit log. See docs/registry.md.",
    no_args_is_help=True,
)
app.add_typer(model_app, name="model")

AliasOpt = Annotated[
    str, typer.Option("--alias", help="champion or challenger.", show_default=True)
]
ReasonOpt = Annotated[str, typer.Option("--reason", help="Why (kept in the audit log).")]
EvidenceOpt = Annotated[
    str | None,
    typer.Option("--evidence", help="A JSON object kept in the audit log with the move."),
]
ActorOpt = Annotated[
    str | None, typer.Option("--actor", help="Who moves it (default: $USER, else 'cli').")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@contextmanager
def _registry() -> Iterator[Any]:
    """The registry of the settings, with its store; errors become exit codes (2: bad
    input, unknown alias or version, a conflicting move; 3: a corrupt artifact; 1: the
    registry or store could not be reached)."""
    from taste2vec.errors import ArtifactError, ConflictError, NotFoundError
    from taste2vec.registry import open_registry
    from taste2vec.store import create_store

    settings = Settings()
    try:
        with create_store(settings.database_url) as store:
            yield open_registry(settings, store)
    except (SchemaError, NotFoundError, ConflictError) as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from None
    except ArtifactError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(3) from None
    except Taste2VecError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(1) from None


def _evidence(text: str | None) -> dict[str, Any]:
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SchemaError(f"--evidence is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise SchemaError("--evidence must be a JSON object")
    return value


def _who(actor: str | None) -> str:
    return actor or os.environ.get("USER") or "cli"


def _print_event(event: Any) -> None:
    out.print(
        f"{event.alias}: {event.previous_version or '-'} -> {event.new_version or '-'} "
        f"({event.action} by {event.actor} at {event.created_at.isoformat(timespec='seconds')})"
    )


@model_app.command("register")
def model_register(
    model_dir: Annotated[Path, typer.Argument(help="A model directory (taste2vec train --out).")],
    description: Annotated[str, typer.Option("--description")] = "",
    promote: Annotated[
        bool, typer.Option("--promote", help="Also make it the champion (audited).")
    ] = False,
    reason: ReasonOpt = "",
    actor: ActorOpt = None,
) -> None:
    """Register a trained model directory (and its edge bundles) as a new version."""
    with _registry() as registry:
        info, created = registry.register(model_dir, actor=_who(actor), description=description)
        state = "registered" if created else "already registered as"
        out.print(f"{state} version {info.version} (weights {info.weights_version})")
        if promote:
            event = registry.promote(info.version, actor=_who(actor), reason=reason)
            if event is None:
                out.print(f"version {info.version} is already the champion")
            else:
                _print_event(event)


@model_app.command("list")
def model_list(as_json: JsonOpt = False) -> None:
    """Every registered version with its aliases."""
    with _registry() as registry:
        versions = registry.versions(metrics=as_json)
        if as_json:
            out.print_json(json.dumps([v.to_dict() for v in versions]))
            return
        table = Table("version", "aliases", "weights", "lexicon", "data", "edge", "created")
        for v in versions:
            table.add_row(
                v.version,
                ", ".join(v.aliases),
                v.weights_version,
                v.lexicon_version,
                v.data_fingerprint,
                ", ".join(v.edge_formats),
                v.created.isoformat(timespec="seconds"),
            )
        out.print(table)


@model_app.command("promote")
def model_promote(
    version: Annotated[str, typer.Argument(help="The version number to point the alias at.")],
    alias: AliasOpt = "champion",
    reason: ReasonOpt = "",
    evidence: EvidenceOpt = None,
    actor: ActorOpt = None,
) -> None:
    """Point an alias at a version (checksums verified first; audited)."""
    with _registry() as registry:
        event = registry.promote(
            version, alias=alias, actor=_who(actor), reason=reason, evidence=_evidence(evidence)
        )
        if event is None:
            out.print(f"{alias} already points at version {version}")
        else:
            _print_event(event)


@model_app.command("rollback")
def model_rollback(
    alias: AliasOpt = "champion",
    to: Annotated[
        str | None, typer.Option("--to", help="A version (default: the previous one).")
    ] = None,
    reason: ReasonOpt = "",
    evidence: EvidenceOpt = None,
    actor: ActorOpt = None,
) -> None:
    """Point an alias back at the version it held before (audited)."""
    with _registry() as registry:
        event = registry.rollback(
            alias=alias, to=to, actor=_who(actor), reason=reason, evidence=_evidence(evidence)
        )
        _print_event(event)


@model_app.command("history")
def model_history(
    alias: Annotated[
        str | None, typer.Option("--alias", help="Only this alias (champion, challenger).")
    ] = None,
    at: Annotated[
        str | None,
        typer.Option("--at", help="An ISO 8601 time: which version --alias held then."),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    as_json: JsonOpt = False,
) -> None:
    """The audit log of alias moves, newest first."""
    from datetime import datetime

    with _registry() as registry:
        if at is not None:
            if alias is None:
                raise SchemaError("--at needs --alias")
            try:
                when = datetime.fromisoformat(at)
            except ValueError:
                raise SchemaError(f"--at {at!r} is not an ISO 8601 time") from None
            out.print(f"{alias} at {at}: {registry.alias_at(alias, when) or 'unset'}")
            return
        events = registry.history(alias, limit=limit)
        if as_json:
            out.print_json(json.dumps([e.to_dict() for e in events]))
            return
        table = Table("when", "alias", "action", "from", "to", "who", "why", "evidence")
        for e in events:
            table.add_row(
                e.created_at.isoformat(timespec="seconds"),
                e.alias,
                e.action,
                e.previous_version or "-",
                e.new_version or "-",
                e.actor,
                e.reason,
                json.dumps(e.evidence) if e.evidence else "",
            )
        out.print(table)


# ------------------------------------------------------------------- A/B experiments
experiment_app = typer.Typer(
    help="A/B experiments of registry versions: control = champion, treatment = "
    "challenger; the controller promotes or rolls back. See docs/experiments.md.",
    no_args_is_help=True,
)
app.add_typer(experiment_app, name="experiment")


def _print_experiment(exp: Any, current: dict[str, Any] | None = None) -> None:
    out.print(
        f"{exp.id}: {exp.status}  control v{exp.control_version} / treatment "
        f"v{exp.treatment_version} ({exp.treatment_share:.0%} of users), created "
        f"{exp.created_at.isoformat(timespec='seconds')} by {exp.created_by}"
    )
    if exp.end_reason:
        out.print(f"  ended: {exp.end_reason}", highlight=False)
    for label, decision in (("last decision", exp.last_decision), ("now", current)):
        if decision:
            users = decision.get("users", {})
            out.print(
                f"  {label}: {decision.get('action')} (users {users.get('control', 0)} / "
                f"{users.get('treatment', 0)})",
                highlight=False,
            )
            for reason in decision.get("reasons", []):
                out.print(f"    - {reason}", highlight=False)


@experiment_app.command("create")
def experiment_create(
    treatment: Annotated[
        str | None,
        typer.Option("--treatment", help="Treatment version (default: the challenger)."),
    ] = None,
    share: Annotated[
        float, typer.Option("--share", help="Share of users in the treatment (0-1).")
    ] = 0.10,
    experiment_id: Annotated[str | None, typer.Option("--id", help="Experiment id.")] = None,
    setting: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="A decision setting NAME=VALUE (e.g. min_users_per_arm=500); repeatable.",
        ),
    ] = None,
    description: Annotated[str, typer.Option("--description")] = "",
    actor: ActorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Start an experiment: control = the champion, treatment = --treatment (it becomes
    the challenger). Refused (exit 2/3) without changing anything when a version is
    missing or corrupt, the share is out of (0, 1), or one is already running."""
    from taste2vec.service.experiments import create_experiment

    config: dict[str, Any] = {}
    for item in setting or []:
        name, sep, value = item.partition("=")
        if not sep:
            raise _fail(SchemaError(f"--set {item!r}: use NAME=VALUE"))
        try:
            config[name.strip()] = json.loads(value)
        except json.JSONDecodeError:
            config[name.strip()] = value
    with _registry() as registry:
        exp = create_experiment(
            registry,
            treatment_version=treatment,
            treatment_share=share,
            experiment_id=experiment_id,
            config=config,
            actor=_who(actor),
            description=description,
        )
        if as_json:
            out.print_json(json.dumps(exp.to_dict()))
        else:
            _print_experiment(exp)


@experiment_app.command("status")
def experiment_status(
    experiment_id: Annotated[
        str | None, typer.Argument(help="An experiment id (default: every experiment).")
    ] = None,
    evaluate_now: Annotated[
        bool, typer.Option("--evaluate", help="Also compute the decision on the data now.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Experiments with the controller's latest decision."""
    from taste2vec.service.controller import evaluate

    with _registry() as registry:
        store = registry.store
        found = (
            [store.get_experiment(experiment_id)]
            if experiment_id
            else store.list_experiments(registry.name)
        )
        rows = []
        for exp in found:
            current = evaluate(store, exp) if evaluate_now and exp.active else None
            rows.append((exp, current))
        if as_json:
            out.print_json(json.dumps([{**e.to_dict(), "current": c} for e, c in rows]))
            return
        if not rows:
            out.print("no experiments")
        for exp, current in rows:
            _print_experiment(exp, current)


@experiment_app.command("stop")
def experiment_stop(
    experiment_id: Annotated[str, typer.Argument(help="The experiment id.")],
    reason: ReasonOpt = "",
    actor: ActorOpt = None,
) -> None:
    """Stop a running experiment: the challenger alias is cleared (audited), the champion
    stays."""
    from taste2vec.service.experiments import stop_experiment

    with _registry() as registry:
        _print_experiment(
            stop_experiment(registry, experiment_id, actor=_who(actor), reason=reason)
        )


@app.command()
def controller(
    interval: Annotated[
        float | None,
        typer.Option("--interval", help="Seconds between rounds (T2V_CONTROLLER_INTERVAL_S)."),
    ] = None,
    once: Annotated[bool, typer.Option("--once", help="One round, then exit.")] = False,
    lease_ttl: Annotated[
        float | None, typer.Option("--lease-ttl", help="Lease seconds (default 3 rounds).")
    ] = None,
    max_failures: Annotated[
        int | None,
        typer.Option(
            "--max-failures",
            min=1,
            help="Exit 1 after this many failed attempts in a row (default: retry for ever).",
        ),
    ] = None,
) -> None:
    """Run the A/B experiment controller on its own (the service runs one by default with
    T2V_MODEL_SOURCE=registry; only one acts at a time). A store or registry that cannot
    be reached, at start or in a round, is retried with the runtime's backoff (0.05 s,
    doubling up to 5 s); --once retries until one round succeeds."""
    import threading

    from taste2vec.errors import ArtifactError, ConflictError, NotFoundError
    from taste2vec.registry import open_registry
    from taste2vec.service.controller import ControllerAction, ExperimentController
    from taste2vec.service.runtime import Backoff
    from taste2vec.store import create_store

    settings = Settings()
    every = interval if interval is not None else settings.controller_interval_s
    if not every > 0:
        raise typer.BadParameter("--interval must be > 0")
    backoff, stop = Backoff(), threading.Event()
    holder: str | None = None  # the same across reconnections: the lease stays ours
    failures = 0

    def report(actions: list[ControllerAction]) -> None:
        for action in actions:
            out.print(f"{action.experiment}: {action.action} -> {action.status}", highlight=False)

    try:
        while True:
            try:
                with create_store(settings.database_url) as store:
                    registry = open_registry(settings, store)
                    ctl = ExperimentController(
                        registry, interval_s=every, lease_ttl_s=lease_ttl, holder=holder
                    )
                    if holder is None:
                        out.print(f"experiment controller {ctl.holder} for model {registry.name!r}")
                    holder, failures = ctl.holder, 0
                    try:
                        ok = ctl.serve(
                            stop,
                            once=once,
                            backoff=backoff,
                            max_failures=max_failures,
                            on_actions=report,
                        )
                    finally:
                        try:
                            ctl.release()
                        except Exception as exc:  # noqa: BLE001 - the lease expires anyway
                            err.print(f"could not release the lease: {exc}", highlight=False)
                    if not ok:
                        err.print(
                            f"[bold red]error:[/] {max_failures} failed rounds in a row, "
                            f"the last: {ctl.last_error}",
                            highlight=False,
                        )
                        raise typer.Exit(1)
                    return
            except typer.Exit:
                raise
            except (SchemaError, NotFoundError, ConflictError) as exc:
                err.print(f"[bold red]error:[/] {exc}", highlight=False)
                raise typer.Exit(2) from None
            except ArtifactError as exc:
                err.print(f"[bold red]error:[/] {exc}", highlight=False)
                raise typer.Exit(3) from None
            except Exception as exc:  # noqa: BLE001 - unreachable store or registry: retried
                failures += 1
                if max_failures is not None and failures >= max_failures:
                    err.print(f"[bold red]error:[/] {exc}", highlight=False)
                    raise typer.Exit(1) from None
                delay = backoff.delay(failures)
                err.print(
                    f"cannot reach the store or registry ({type(exc).__name__}: {exc}); "
                    f"retrying in {delay:.2f} s",
                    highlight=False,
                )
                stop.wait(delay)
    except KeyboardInterrupt:
        pass


@app.command()
def snapshot(
    out_dir: Annotated[Path, typer.Option("--out", help="Snapshot directory (created).")],
    log_url: Annotated[
        str | None,
        typer.Option("--log", help="Event log URL (default T2V_EVENT_LOG_URL, embedded SQLite)."),
    ] = None,
    store_url: Annotated[
        str | None,
        typer.Option("--store", help="Store URL (default T2V_DATABASE_URL)."),
    ] = None,
    no_log: Annotated[bool, typer.Option("--no-log", help="Export the store only.")] = False,
    no_store: Annotated[
        bool, typer.Option("--no-store", help="Export the event log only.")
    ] = False,
) -> None:
    """Export what is new in the event log and the store to Parquet (by day), once.

    Incremental and idempotent: a re-run adds only entries past the snapshot's watermark,
    and a run killed midway leaves nothing a later run trusts (docs/batch.md). Prints
    what this run added as JSON. Exit 2 for missing, empty or corrupt inputs.
    """
    from taste2vec.batch.snapshot import SnapshotError, export_from_urls

    settings = Settings()
    if no_log and no_store:
        raise typer.BadParameter("--no-log and --no-store leave nothing to export")
    try:
        result = export_from_urls(
            out_dir,
            log_url=None if no_log else (log_url or settings.event_log_url_value()),
            store_url=None if no_store else (store_url or settings.database_url),
        )
    except SnapshotError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from exc
    except Taste2VecError as exc:
        raise _fail(exc) from exc
    out.print_json(json.dumps(result.to_dict()))


@app.command("churn-train")
def churn_train(
    snapshot_dir: Annotated[Path, typer.Option("--snapshot", help="Snapshot directory.")],
    out_dir: Annotated[
        Path, typer.Option("--out", help="Where to write churn.json and metrics.json.")
    ] = Path("artifacts/churn-model"),
    horizon_days: Annotated[
        float, typer.Option(min=1, help="Label: cancels within this many days.")
    ] = 30.0,
    seed: Annotated[int, typer.Option(help="Seed of the subscriber split.")] = 0,
    register: Annotated[
        bool, typer.Option("--register", help="Register it as taste2vec-churn (T2V_REGISTRY_URI).")
    ] = False,
    promote: Annotated[
        bool,
        typer.Option("--promote", help="With --register: make it champion if it beats rule-v1."),
    ] = False,
) -> None:
    """Train the calibrated churn model on a snapshot's subscribers (docs/batch.md).

    Prints held-out AUC and Brier next to rule-v1's as JSON. With --register the model
    becomes a version of taste2vec-churn; with --promote also its champion (what the stream
    signals are scored with), only if it beats the rule. Exit 2 for an unusable snapshot.
    """
    from taste2vec.batch.churn import train_from_snapshot
    from taste2vec.batch.snapshot import SnapshotError

    if promote and not register:
        raise typer.BadParameter("--promote needs --register", param_hint="--promote")
    try:
        if register:
            from taste2vec.registry.churn import ChurnRegistry
            from taste2vec.store import create_store

            settings = Settings()
            with create_store(settings.database_url) as store:
                registry = ChurnRegistry(
                    settings.registry_uri_value(), store, cache_dir=settings.registry_cache_dir()
                )
                summary = train_from_snapshot(
                    snapshot_dir,
                    out_dir,
                    horizon_days=horizon_days,
                    seed=seed,
                    registry=registry,
                    promote=promote,
                )
        else:
            summary = train_from_snapshot(
                snapshot_dir, out_dir, horizon_days=horizon_days, seed=seed
            )
    except SnapshotError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from exc
    except Taste2VecError as exc:
        raise _fail(exc) from exc
    out.print_json(json.dumps(summary))


@app.command()
def retrain(
    snapshot_dir: Annotated[
        Path, typer.Option("--snapshot", help="Snapshot directory (taste2vec snapshot --out).")
    ],
    checkpoint_dir: Annotated[
        Path,
        typer.Option("--checkpoint-dir", help="Stages and epochs done; a re-run resumes here."),
    ] = Path("artifacts/retrain"),
    epochs: Annotated[int, typer.Option(min=1, max=1000)] = 20,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same model.")] = 13,
    holdout_fraction: Annotated[
        float, typer.Option(min=0.01, max=0.9, help="Newest share of the tastings held out.")
    ] = 0.2,
    min_holdout: Annotated[int, typer.Option(min=1, help="Fewest holdout tastings.")] = 5,
    min_improvement: Annotated[
        float,
        typer.Option(
            min=0.0,
            help="Register only when the paired test's lower bound on the mean per-tasting "
            "MAE gain is above this (points).",
        ),
    ] = 0.0,
    confidence: Annotated[
        float,
        typer.Option(min=0.5, max=0.999, help="One-sided level of the paired test's bound."),
    ] = 0.95,
    bootstrap: Annotated[
        int, typer.Option(min=100, help="Bootstrap resamples of the paired differences.")
    ] = 10_000,
    preference_epochs: Annotated[
        int,
        typer.Option(
            min=0,
            max=1000,
            help="Epochs of fine-tuning on feedback, box ratings and Lab sessions (0: off).",
        ),
    ] = 8,
    preference_lr: Annotated[
        float, typer.Option(min=0.0, help="Learning rate of that fine-tuning.")
    ] = 3e-4,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="Also train on Coffee Review from this datasets folder (default: bundled "
            "data and the snapshot only, which keeps the job light).",
        ),
    ] = None,
    review_limit: Annotated[
        int | None, typer.Option(min=10, help="With --data-dir: the newest N reviews only.")
    ] = None,
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Ignore (delete) the checkpoint and start over.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check inputs and show the split; train nothing.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Retrain on everything accumulated (tastings train the encoder; feedback, box
    ratings and Lab sessions fine-tune it), evaluate against the champion on the newest
    tastings, and register a challenger only if a paired test says it is better
    (docs/batch.md).

    No champion yet: the model becomes the champion. Not better: exit 0, nothing
    registered. Exit 2 for a missing, empty or corrupt snapshot or checkpoint.
    """
    from taste2vec.batch.preferences import PreferenceConfig
    from taste2vec.batch.retrain import RetrainConfig
    from taste2vec.batch.retrain import retrain as run_retrain
    from taste2vec.batch.snapshot import SnapshotError
    from taste2vec.model.taste2vec import text_encoder_for

    if data_dir is not None and not data_dir.is_dir():
        raise typer.BadParameter(f"{data_dir} is not a directory", param_hint="--data-dir")
    try:
        cfg = RetrainConfig(
            epochs=epochs,
            seed=seed,
            holdout_fraction=holdout_fraction,
            min_holdout=min_holdout,
            min_improvement=min_improvement,
            confidence=confidence,
            bootstrap=bootstrap,
            review_limit=review_limit,
            preference=PreferenceConfig(epochs=preference_epochs, lr=preference_lr),
        )
    except SnapshotError as exc:
        raise typer.BadParameter(str(exc)) from exc
    with _registry() as registry:
        try:
            result = run_retrain(
                snapshot_dir,
                registry,
                text_encoder_for(Settings()),
                checkpoint_dir,
                cfg,
                data_dir=data_dir,
                dry_run=dry_run,
                fresh=fresh,
                progress=not quiet,
                on_stage=None if quiet else (lambda s: err.print(f"retrain: stage {s}")),
            )
        except SnapshotError as exc:  # RetrainError too: unusable input
            err.print(f"[bold red]error:[/] {exc}", highlight=False)
            raise typer.Exit(2) from None
    if as_json:
        out.print_json(json.dumps(result.to_dict()))
    else:
        out.print(result.message, highlight=False)


@app.command()
def curate(
    month: Annotated[str, typer.Option("--month", help="The month to curate, YYYY-MM.")],
    solver: Annotated[
        str, typer.Option("--solver", help="auto (exact up to 20k pairs), greedy or exact.")
    ] = "auto",
    no_repeat_months: Annotated[
        int, typer.Option("--no-repeat-months", help="No coffee sent again within N months.")
    ] = 6,
    w_family: Annotated[float, typer.Option("--w-family", help="Per distinct family.")] = 0.15,
    w_origin: Annotated[float, typer.Option("--w-origin", help="Per distinct origin.")] = 0.10,
    w_explore: Annotated[float, typer.Option("--w-explore", help="Per discovery pick.")] = 0.20,
    explore_share: Annotated[
        float, typer.Option("--explore-share", help="Share of a box rewarded as discovery.")
    ] = 0.25,
    csv_out: Annotated[
        Path | None, typer.Option("--csv", help="Also write the boxes to this CSV file.")
    ] = None,
    ship: Annotated[
        bool, typer.Option("--ship", help="Ship the run: mark it shipped, take it off stock.")
    ] = False,
    model: ModelOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Curate a month's subscription boxes: k coffees per active subscriber (k from the
    plan) by predicted affinity, diversity and discovery, under stock, exclusions and
    no-repeat. Stored as the month's draft (a re-run replaces it; a shipped month is
    refused, exit 2). Subscribers with short boxes are listed."""
    from rich.progress import Progress

    from taste2vec.curation import Weights
    from taste2vec.curation.export import write_csv
    from taste2vec.curation.run import CurationSettings
    from taste2vec.errors import ConflictError, NotFoundError
    from taste2vec.model.taste2vec import Taste2Vec
    from taste2vec.service import TasteService
    from taste2vec.service.curation_scores import curate_month
    from taste2vec.store import check_month, create_store

    try:
        check_month(month)  # before the model loads: a typo answers at once
        settings = Settings()
        config = CurationSettings(
            weights=Weights(
                family=w_family, origin=w_origin, explore=w_explore, explore_share=explore_share
            ),
            no_repeat_months=no_repeat_months,
            solver=solver,  # type: ignore[arg-type]  # checked by CurationSettings
        )
        loaded = Taste2Vec.load(model or settings.model_dir, settings)
        with create_store(settings.database_url) as store:
            service = TasteService(store, loaded)
            try:
                with Progress(console=err, transient=True) as bar:
                    tasks: dict[str, Any] = {}

                    def progress(stage: str, done: int, total: int) -> None:
                        if stage not in tasks:
                            tasks[stage] = bar.add_task(stage, total=total)
                        bar.update(tasks[stage], completed=done)

                    run = curate_month(service, month, config, progress)
                if ship:
                    store.ship_curation_run(run.id)
                    run = store.curation_run(run.id) or run
                if csv_out is not None:
                    with csv_out.open("w", newline="", encoding="utf-8") as fh:
                        write_csv(store, run.id, fh)
            finally:
                service.close()
    except (ConflictError, NotFoundError) as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from None
    except Taste2VecError as exc:
        raise _fail(exc) from exc
    if as_json:
        sys.stdout.write(json.dumps(run.to_dict(), ensure_ascii=False, indent=2) + "\n")
        return
    s = run.summary
    out.print(
        f"{run.id} ({run.status}): {s['subscribers']} subscribers, {s['picks']} coffees, "
        f"solver {s['solver']} in {s['solve_s']} s; mean affinity {s['mean_affinity']}, "
        f"{s['mean_families_per_box']} families and {s['mean_origins_per_box']} origins "
        "per box",
        highlight=False,
    )
    if s["short_box_count"]:
        shown = ", ".join(f"{u} (-{n})" for u, n in list(s["short_boxes"].items())[:20])
        out.print(f"short boxes ({s['short_box_count']}): {shown}", highlight=False)
    if csv_out is not None:
        out.print(f"boxes written to {csv_out}", highlight=False)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app()


if __name__ == "__main__":
    main()
