"""The command line: a thin typer layer over the Python API."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from modelcollapse.run.loading import ConfigError, apply_overrides, expand, read_yaml
from modelcollapse.store import GRID_AXES, Refused

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Simulate, measure and explain model collapse.")
console = Console(width=max(Console().width, 140))
err = Console(stderr=True)


MAX_MESSAGE = 400  # characters of an error line: a message may quote untrusted text
DEBUG = False


def _fail(message: str, code: int = 2) -> None:
    """One ``error:`` line; exit 2 for bad input, 1 for a failure while running."""
    if len(message) > MAX_MESSAGE:
        message = message[: MAX_MESSAGE - 3] + "..."
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@app.callback()
def _options(
    debug: Annotated[bool, typer.Option("--debug", help="show the traceback of an error")] = False,
) -> None:
    """Simulate, measure and explain model collapse."""
    global DEBUG
    DEBUG = debug


def _explain(error: Exception) -> tuple[int, str]:
    """An exception as (exit status, one line): bad input 2, anything else 1."""
    import duckdb

    from modelcollapse.store import StoreError

    first = (str(error).splitlines() or [""])[0]
    if isinstance(error, ConfigError | Refused):
        return 2, first
    if isinstance(error, StoreError):
        return 1, first
    if isinstance(error, MemoryError):
        return 1, "out of memory (a smaller plan, fewer workers, or --allow-large only where it fits)"
    if isinstance(error, OSError):
        where = f"{error.filename}: " if error.filename else ""
        return 1, f"{where}{error.strerror or first}"
    if isinstance(error, duckdb.Error):
        return 1, f"results store: {first}"
    return 1, f"{type(error).__name__}: {first} (--debug shows the traceback)"


def _interrupt() -> type[Exception]:
    import duckdb  # a Ctrl-C during a query arrives as DuckDB's exception

    return duckdb.InterruptException


def _guarded(command: Callable[..., Any]) -> Callable[..., Any]:
    """A command whose errors end as one ``error:`` line and an exit status, never a traceback."""
    from typer.exceptions import TyperException

    @functools.wraps(command)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        from modelcollapse.run.runner import Interrupted

        try:
            return command(*args, **kwargs)
        except (typer.Exit, typer.Abort, TyperException):
            raise
        except (Interrupted, KeyboardInterrupt, _interrupt()) as e:
            err.print(str(e) if isinstance(e, Interrupted) else "interrupted", highlight=False, soft_wrap=True)
            raise typer.Exit(130) from None
        except Exception as e:
            if DEBUG:
                raise
            code, message = _explain(e)
            _fail(message, code)

    return guarded


def _writable_folder(option: str, folder: Path) -> None:
    """Refuse (exit 2) a folder argument that is a file or cannot be created."""
    if folder.exists() and not folder.is_dir():
        _fail(f"{option}: {folder} is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        _fail(f"{option}: cannot create {folder}: {e.strerror}")


def _new_file(option: str, path: Path, folder: Path) -> None:
    """Refuse (exit 2) an output file whose folder is missing, that is a folder, or that is ``folder``'s store."""
    store = (folder / "results.duckdb").resolve()
    if path.resolve() in (store, store.with_name(store.name + ".wal")):
        _fail(f"{option}: {path} is the results store itself; write elsewhere")
    if path.is_dir():
        _fail(f"{option}: {path} is a folder; give a file name")
    if not path.parent.is_dir():
        _fail(f"{option}: the folder {path.parent} does not exist")


def _results(folder: Path, rows: bool = True) -> None:
    """Refuse a folder without a store (exit 2) or, with ``rows``, one without results yet (exit 1: every
    chunk failed, and the first error says why)."""
    from modelcollapse.store import Store

    if not (folder / "results.duckdb").is_file():
        _fail(f"no results in {folder} (expected {folder / 'results.duckdb'})")
    if rows:
        with Store.open(folder, read_only=True) as store:
            empty, failures = store.count() == 0, store.failures()
        if empty:
            why = f": {len(failures)} chunk(s) failed, the first with {failures.error.iloc[0]}" if len(failures) else ""
            _fail(f"no results in {folder} yet{why}", 1)


Config = Annotated[Path, typer.Argument(help="experiment YAML file (a sweep: mapping expands a grid)")]
Out = Annotated[Path, typer.Option("--out", "-o", help="results folder (created; reruns resume)")]
Sets = Annotated[list[str] | None, typer.Option("--set", help="override a field: FIELD=VALUE")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar (CI logs)")]
Workers = Annotated[int, typer.Option("--workers", "-w", min=1, help="processes (same numbers for any count)")]
Device = Annotated[
    str | None, typer.Option("--device", help="neural models: auto (a CUDA GPU when present), cpu, cuda, cuda:N")
]
Executor = Annotated[str, typer.Option("--executor", "-e", help="where chunks run: inline, local (processes) or ray")]
Address = Annotated[
    str | None, typer.Option("--address", help="ray: the cluster to use (auto, or HOST:PORT); default: start one")
]
GpusPerTask = Annotated[
    float | None,
    typer.Option("--gpus-per-task", min=0, help="ray: GPUs per neural cell's task (default 1 where there are GPUs)"),
]
LogTo = Annotated[
    list[str] | None,
    typer.Option("--log-to", help="also log to a tracker: mlflow[:URI] or wandb[:DIR] (offline); repeatable"),
]
AllowLarge = Annotated[
    bool, typer.Option("--allow-large", help="run a plan over the size limits (memory per block, rows, draws)")
]


@app.command()
def run(
    config: Config,
    out: Out,
    set_: Sets = None,
    quiet: Quiet = False,
    workers: Workers = 1,
    device: Device = None,
    executor: Executor = "local",
    address: Address = None,
    allow_large: AllowLarge = False,
    log_to: LogTo = None,
    gpus_per_task: GpusPerTask = None,
) -> None:
    """Run an experiment (all sweep cells and workflows) and print the summary table."""
    _run(config, out, set_, quiet, workers, device, executor, address, allow_large, log_to, gpus_per_task)


app.command("sweep", help="Run every cell of the config's sweep grid (the same command as run).")(run)


def _run(
    config: Path,
    out: Path,
    set_: list[str] | None,
    quiet: bool,
    workers: int,
    device: str | None,
    executor: str,
    address: str | None,
    allow_large: bool,
    log_to: list[str] | None = None,
    gpus_per_task: float | None = None,
) -> None:
    from modelcollapse.run import plan
    from modelcollapse.run.executors import EXECUTORS
    from modelcollapse.run.runner import run as run_experiment

    if executor not in EXECUTORS:
        _fail(f"--executor: {executor!r} is not one of: {', '.join(EXECUTORS)}")
    if address and executor != "ray":
        _fail("--address: only the ray executor connects to a cluster; add --executor ray")
    if gpus_per_task is not None and executor != "ray":
        _fail("--gpus-per-task: only the ray executor schedules GPUs; add --executor ray")
    try:
        raw = apply_overrides(read_yaml(config), [*(set_ or []), *([f"model.device={device}"] if device else [])])
        plan.check(expand(raw), allow_large)  # validate everything before a folder is touched
    except ConfigError as e:
        _fail(str(e))
    sinks = _sinks(log_to)
    _writable_folder("--out", out)
    options: dict[str, Any] = {
        "workers": workers,
        "executor": executor,
        "address": address,
        "allow_large": allow_large,
        "gpus_per_task": gpus_per_task,
    }
    if quiet:
        summary = run_experiment(raw, out, **options)
    else:
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("chunks"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=err, transient=True) as bar:
            task = bar.add_task(raw.get("name", "run"), total=None)
            summary = run_experiment(
                raw,
                out,
                lambda note, done, total: bar.update(task, description=note, completed=done, total=total),
                **options,
            )
    err.print(
        f"{summary.cells} cell(s), {summary.chunks_run} chunk(s) run, {summary.chunks_skipped} already done, "
        f"{summary.failed} failed, {summary.rows} rows in {summary.seconds:.1f} s -> {out}",
        highlight=False,
    )
    some = summary.failed < summary.chunks_run + summary.chunks_skipped  # else nothing to show; the errors say why
    if some:
        _show(out, None, None, limit=RUN_TABLES)
    _after_run(out)
    if sinks and some:
        from modelcollapse.report.figures import plot_folder
        from modelcollapse.report.grid import grid_figures

        plot_folder(out)  # the trackers get the figures too
        grid_figures(out)
    logged = _log(out, sinks)
    if summary.failed or not logged:
        raise typer.Exit(1)


def _sinks(specs: list[str] | None, option: str = "--log-to") -> list[Any]:
    """``--log-to`` parsed and its packages checked, before any work starts."""
    from modelcollapse.trackers import parse

    try:
        sinks = [parse(spec, option) for spec in specs or []]
        for sink in sinks:
            sink.check()
    except ValueError as e:
        _fail(str(e))
    return sinks


def _log(folder: Path, sinks: list[Any]) -> bool:
    """Log ``folder`` to each sink; a sink that fails is reported (the results stay in the folder) and the
    others still run. True when every sink succeeded."""
    ok = True
    for sink in sinks:
        try:
            where = sink.log(folder)
        except Exception as e:  # a tracker's own error, whatever its type: the store is already complete
            if DEBUG:
                raise
            ok = False
            line = f"{type(e).__name__}: {e}"[:MAX_MESSAGE]
            err.print(
                f"[red]--log-to {escape(str(sink))} failed[/red]: {escape(line)}\n"
                f"The results are saved in {escape(str(folder))}; log them again with: "
                f"modelcollapse log {escape(str(folder))} --to {escape(str(sink))}",
                highlight=False,
                soft_wrap=True,
            )
        else:
            err.print(f"logged to {sink.name}: {escape(where)}", highlight=False, soft_wrap=True)
    return ok


@app.command("log")
def log_(
    folder: Annotated[Path, typer.Argument(help="results folder")],
    to: Annotated[list[str], typer.Option("--to", help="mlflow[:URI] or wandb[:DIR]; repeatable")],
) -> None:
    """Log a results folder (finished, partial or merged) to MLflow or Weights & Biases: a tracker run per
    cell and workflow, the config as parameters, every metric per generation, the figures and report as
    artifacts. Logging again replaces the folder's earlier MLflow runs."""
    sinks = _sinks(to, "--to")
    _results(folder, rows=False)
    if not _log(folder, sinks):
        raise typer.Exit(1)


def _after_run(out: Path) -> None:
    """Failed chunks (with their error; a rerun retries them), non-finite metric values, and the time per
    cell (the sum of its chunks), so the expensive corners of a sweep are visible."""
    from modelcollapse.analysis.summary import cells
    from modelcollapse.selection.pipeline import series
    from modelcollapse.store import Store

    with Store.open(out, read_only=True) as store:
        selected = {name for c in cells(store) for name in series(c.exp.selection)}
        failures, nonfinite = store.failures(), store.nonfinite(sorted(selected))
        t = store.table(
            """SELECT c.experiment, c.sweep, sum(k.seconds) AS seconds FROM chunks k
               JOIN cells c ON c.config_hash = k.config_hash GROUP BY ALL ORDER BY seconds DESC"""
        )
    for f in failures.itertuples():
        line = f"[red]failed:[/red] {escape(f'{f.experiment} {f.sweep} block {f.block}: {f.error}')}"
        err.print(line, highlight=False, soft_wrap=True)
    for column, note in (
        ("nan", "not defined for this setting (all NaN)"),  # e.g. a 1-D-only metric
        ("inf", "infinite in every value (diverged, absorbed or singular)"),
    ):
        every = nonfinite[nonfinite[column] == nonfinite["total"]]
        if len(every):
            names = escape(", ".join(sorted(set(every["metric"]))))
            err.print(f"[dim]{note}: {names}[/dim]", highlight=False, soft_wrap=True)
    some = nonfinite[(nonfinite["nan"] < nonfinite["total"]) & (nonfinite["inf"] < nonfinite["total"])]
    for r in some.to_dict("records"):
        counts = " and ".join(f"{int(r[k])} {label}" for k, label in (("nan", "NaN"), ("inf", "inf")) if r[k])
        what = escape(" ".join(str(r[k]) for k in ("experiment", "workflow", "metric")))
        err.print(
            f"[yellow]non-finite:[/yellow] {what}: {counts} of {r['total']} values, "
            f"from generation {r['first_generation']}",
            highlight=False,
            soft_wrap=True,
        )
    if len(t) > 1:
        slow = t.iloc[0]
        err.print(
            f"time per cell: mean {t.seconds.mean():.2f} s, median {t.seconds.median():.2f} s, "
            f"slowest {slow.seconds:.2f} s ({escape(f'{slow.experiment} {slow.sweep}')})",
            highlight=False,
            soft_wrap=True,
        )


@app.command()
def show(
    folder: Annotated[Path, typer.Argument(help="results folder")],
    generation: Annotated[list[int] | None, typer.Option("--generation", "-g", help="generations to show")] = None,
    metric: Annotated[list[str] | None, typer.Option("--metric", "-m", help="metrics to show")] = None,
) -> None:
    """A table of metric mean ± standard error per workflow at chosen generations (a grid: N_real x N_syn)."""
    _show(folder, generation, metric)


RUN_TABLES = 6  # cells whose table `run` prints; `show` prints them all


def _show(folder: Path, generation: list[int] | None, metric: list[str] | None, limit: int | None = None) -> None:
    from modelcollapse.store import Store

    _results(folder)
    with Store.open(folder, read_only=True) as store:
        gens = generation or _default_generations(store)
        df = store.summary(gens, metric)
        sweep = store.sweep_columns()
        grid, declared = None, {}
        if set(GRID_AXES) <= set(sweep):  # real-synthetic cells: each at its last generation, as a grid
            from modelcollapse.report.grid import declared_axes  # lazy: it loads SciPy's statistics (1 s)

            grid = store.summary(None, metric)  # every generation; _show_grid keeps each cell's last
            sweep = [c for c in sweep if c not in GRID_AXES]
            df, grid = df[df.n_real.isna()], grid[grid.n_real.notna()]
            declared = declared_axes(store)
    if grid is not None and not grid.empty:
        _show_grid(grid, sweep, declared)
        if df.empty:
            return
    if df.empty:
        _fail(f"no rows for generations {gens} and metrics {metric or 'all'}")
    groups = df.groupby(["experiment", *sweep, "config_hash"], sort=True, dropna=False)
    for shown, (keys, part) in enumerate(groups):
        if limit is not None and shown == limit:
            err.print(f"... and {groups.ngroups - limit} more cell(s): modelcollapse show {escape(str(folder))}")
            break
        title = str(keys[0])
        if sweep:
            title = f"{keys[0]}  " + ", ".join(f"{c}={v}" for c, v in zip(sweep, keys[1:-1], strict=True))
        table = Table(title=title, title_justify="left")
        table.add_column("metric", no_wrap=True)
        table.add_column("workflow", no_wrap=True)
        for g in gens:
            table.add_column(f"gen {g}", justify="right", no_wrap=True)
        for (m, w), rows in part.groupby(["metric", "workflow"], sort=True):
            cells = {
                int(r["generation"]): _fmt(float(r["mean"]), float(r["se"]), float(r["nonfinite"]))
                for r in rows.to_dict("records")
            }
            table.add_row(str(m), str(w), *(cells.get(g, "") for g in gens))
        console.print(table)


def _show_grid(df, others: list[str], declared: dict) -> None:  # type: ignore[no-untyped-def, type-arg]
    """Real-synthetic grids: one table per metric, N_real down and N_syn across, at each cell's last generation
    (the proportion design's extra cells are in the figures and the export)."""
    from modelcollapse.report.grid import axes_of

    df = df[df.generation == df.groupby(["experiment", *others, *GRID_AXES], dropna=False).generation.transform("max")]
    for keys, part in df.groupby(["experiment", *others, "metric"], sort=True, dropna=False):
        title = f"{keys[0]}  " + ", ".join(f"{c}={v}" for c, v in zip([*others, "metric"], keys[1:], strict=True))
        reals, syns = axes_of(part, declared.get(keys[0]))
        table = Table(title=f"{title}  (mean±se; rows N_real, columns N_syn)", title_justify="left")
        table.add_column("N_real", justify="right", no_wrap=True)
        for syn in syns:
            table.add_column(str(int(syn)), justify="right", no_wrap=True)
        values = {(x["n_real"], x["n_syn"]): x for x in part.to_dict("records")}
        for r in reals:
            row = [values.get((r, syn)) for syn in syns]
            table.add_row(str(int(r)), *("" if x is None else f"{x['mean']:.3g}±{x['se']:.1g}" for x in row))
        console.print(table)


def _default_generations(store) -> list[int]:  # type: ignore[no-untyped-def]
    last = int(store.table("SELECT max(generation) AS g FROM results")["g"].iloc[0])
    return sorted({1, 2, max(1, last // 2), last})


def _fmt(mean: float, se: float, nonfinite: float) -> str:
    text = f"{mean:.4g}±{se:.2g}" if se == se else f"{mean:.4g}"
    return text + (f" ({int(nonfinite)} non-finite)" if nonfinite else "")


@app.command("list")
def list_() -> None:
    """Sources, model families, workflows, selection stages, downstream tasks and metrics, with one-line
    descriptions (from the registry)."""
    from modelcollapse.registry import DOWNSTREAM, MODELS, SOURCES, STAGES, WORKFLOWS, doc

    for title, registry in (
        ("sources (source.kind)", SOURCES),
        ("model families (model.kind)", MODELS),
        ("workflows (workflow.kind)", WORKFLOWS),
        ("selection stages (selection[].kind)", STAGES),
        ("downstream tasks (downstream.kind)", DOWNSTREAM),
    ):
        table = Table(title=title, title_justify="left")
        table.add_column("kind")
        table.add_column("description")
        for kind, cls in registry.items():
            aliases = registry.aliases(kind)
            name = kind + (f" ({', '.join(aliases)})" if aliases else "")
            missing = isinstance(cls, ImportError)
            table.add_row(name, f"[dim]needs an extra: {escape(str(cls))}[/dim]" if missing else escape(doc(cls)))
        console.print(table)
    table = Table(title="metrics (metrics: [...]; train_size is always recorded)", title_justify="left")
    for col in ("family", "metric", "description"):
        table.add_column(col)
    for kind, metrics in _metrics_by_family().items():
        for name, description in metrics.items():
            table.add_row(kind, name, escape(description))
    console.print(table)


def _metrics_by_family() -> dict[str, dict[str, str]]:
    """Each family's metrics, fitted to the default config of each source it fits (skipping what is missing here)."""
    from modelcollapse.metrics import table
    from modelcollapse.registry import MODELS, SOURCES

    out: dict[str, dict[str, str]] = {}
    for kind, cls in MODELS.items():
        if isinstance(cls, ImportError):
            continue
        for source in cls.sources:  # type: ignore[attr-defined]
            source_cls = SOURCES.get(source)
            try:
                data: Any = source_cls.model_validate({"kind": source, **source_cls.example})  # type: ignore[union-attr]
                family = cls.model_validate({"kind": kind}).build(data)  # type: ignore[attr-defined]
                metrics = {m: v.description for m, v in table(family, data).items()}
            except (FileNotFoundError, ImportError, ValueError):  # data or an extra not installed here
                continue
            out.setdefault(kind, {}).update(metrics)
    return out


@app.command()
def export(
    folder: Annotated[Path, typer.Argument(help="results folder")],
    csv: Annotated[Path | None, typer.Option("--csv", help="write the results table as CSV")] = None,
    parquet: Annotated[Path | None, typer.Option("--parquet", help="write the results table as Parquet")] = None,
) -> None:
    """Write the tidy results table (sorted) to CSV and/or Parquet."""
    from modelcollapse.store import Store

    if not csv and not parquet:
        _fail("give --csv FILE and/or --parquet FILE")
    for option, path in (("--csv", csv), ("--parquet", parquet)):
        if path is not None:
            _new_file(option, path, folder)
    _results(folder, rows=False)
    with Store.open(folder, read_only=True) as store:
        store.export(csv, parquet)


@app.command()
def merge(
    dest: Annotated[Path, typer.Argument(help="the results folder to merge into (created if missing)")],
    sources: Annotated[list[Path], typer.Argument(help="results folders to merge from (e.g. other machines')")],
) -> None:
    """Merge other results folders into one: their finished chunks, cells, runs and failures; rows already
    present are skipped (equal keys hold equal numbers), so merging is idempotent."""
    from modelcollapse.store import Store
    from modelcollapse.store.merge import add, read, target

    for src in sources:
        _results(src, rows=False)
    if dest.exists() and not dest.is_dir():
        _fail(f"DEST: {dest} is a file, not a folder")
    incoming = [read(src, dest) for src in sources]  # every source checked before DEST is touched
    have = None
    if (dest / "results.duckdb").is_file():
        with Store.open(dest, read_only=True) as store:
            have = store.identity()
    target(have, incoming, dest)
    _writable_folder("DEST", dest)
    with Store.open(dest) as store:
        for src, rows in zip(sources, add(store, incoming), strict=True):
            console.print(f"{src}: {rows:,} rows added", highlight=False)


@app.command()
def plot(
    folder: Annotated[Path, typer.Argument(help="results folder")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="figure folder (default FOLDER/figures)")] = None,
    metric: Annotated[list[str] | None, typer.Option("--metric", "-m", help="metrics to draw (default all)")] = None,
) -> None:
    """Draw metric-vs-generation figures (PNG and PDF) with theory overlays from a results folder.

    Real-synthetic grids get heatmaps over (N_real, N_syn) and curves instead.
    """
    from modelcollapse.report.figures import plot_folder
    from modelcollapse.report.grid import grid_figures
    from modelcollapse.store import Store

    _results(folder)
    with Store.open(folder, read_only=True) as store:
        known = sorted(store.table("SELECT DISTINCT metric FROM results").metric)
    for m in metric or []:
        if m not in known:
            _fail(f"--metric: {m!r} is not one of: {', '.join(known)}")
    if out is not None:
        _writable_folder("--out", out)
    for path in plot_folder(folder, out, metric) + grid_figures(folder, out, metric):
        console.print(str(path), highlight=False)


@app.command()
def reproduce(
    name: Annotated[str | None, typer.Argument(help="a bundled reproduction (see --list)")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="output folder")] = None,
    list_: Annotated[bool, typer.Option("--list", help="list the bundled reproductions")] = False,
    replicates: Annotated[
        int | None, typer.Option("--replicates", "-r", min=1, help="cap the replicates of every experiment")
    ] = None,
    workers: Annotated[int, typer.Option("--workers", "-w", min=1, help="processes")] = 1,
    scale: Annotated[
        float, typer.Option("--scale", min=0.01, help="multiply data, steps and width of a neural reproduction (GPU)")
    ] = 1.0,
    device: Annotated[str | None, typer.Option("--device", help="neural models: auto, cpu, cuda, cuda:N")] = None,
    html: Annotated[bool, typer.Option("--html", help="also write OUT/report.html (self-contained)")] = False,
    log_to: LogTo = None,
) -> None:
    """Reproduce a published result: results, summary.csv (simulated vs predicted, z) and figures."""
    from modelcollapse.report.reproduce import available, worst_rows
    from modelcollapse.report.reproduce import reproduce as run_reproduction

    repros = available()
    if list_ or name is None:
        table = Table(title="bundled reproductions", title_justify="left")
        table.add_column("name", no_wrap=True)
        table.add_column("reproduces")
        for r in repros.values():
            table.add_row(r.name, r.title)
        console.print(table)
        return
    if name not in repros:
        _fail(f"unknown reproduction {name!r}; one of: {', '.join(repros)}")
    if out is None:
        _fail("give --out DIR")
    assert out is not None
    sinks = _sinks(log_to)
    outcome = run_reproduction(name, out, replicates, workers, scale=scale, device=device, html=html)
    console.print(f"{repros[name].title}\nclaim: {repros[name].claim}", highlight=False)
    console.print(f"{len(outcome.summary)} predicted points; worst |z| = {outcome.worst_z:.2f}", highlight=False)
    if len(outcome.summary):
        console.print(worst_rows(outcome.summary).to_string(index=False), highlight=False)
    if (out / "effect.csv").exists():  # no closed form: the direction of the effect, against the seed spread
        import pandas as pd

        console.print(pd.read_csv(out / "effect.csv").to_string(index=False, float_format="%.4g"), highlight=False)
    console.print(f"summary: {out / 'summary.csv'}; {len(outcome.figures)} figures in {out / 'figures'}")
    if html:
        console.print(f"report: {out / 'report.html'}", highlight=False)
    if not _log(out, sinks):
        raise typer.Exit(1)


@app.command()
def report(
    folder: Annotated[Path, typer.Argument(help="results folder")],
    html: Annotated[Path, typer.Option("--html", help="the HTML file to write (self-contained)")],
    title: Annotated[str | None, typer.Option("--title", help="heading (default: the experiment's name)")] = None,
) -> None:
    """Write one self-contained HTML report: configs, tables with standard errors, interactive figures,
    theory z-scores, collapse verdicts and run metadata; it opens offline and can be sent as one file."""
    from modelcollapse.report.html import write_html

    _results(folder)
    _new_file("--html", html, folder)
    path = write_html(folder, html, title=title)
    console.print(f"report: {path} ({path.stat().st_size / 1e6:.1f} MB)", highlight=False)


@app.command()
def assess(
    folder: Annotated[Path, typer.Argument(help="results folder")],
    json_: Annotated[bool, typer.Option("--json", help="print every verdict with its evidence as JSON")] = False,
    timeline: Annotated[
        bool, typer.Option("--timeline", help="early warning: when each definition first fired, and its lead")
    ] = False,
) -> None:
    """Does it collapse, and by which definition? A verdict per workflow and definition, with evidence."""
    import json

    from modelcollapse.analysis.assess import assess as run_assess
    from modelcollapse.analysis.timeline import timeline as early

    _results(folder)
    rows = run_assess(folder)
    if timeline:
        rows = early(rows)
        if json_:
            print(json.dumps(rows, indent=1, default=float))
        else:
            _print_timeline(rows)
        return
    if json_:
        print(json.dumps(rows, indent=1, default=float))
        return
    short = {
        "collapses": "[red]collapses[/red]",
        "does not collapse": "[green]no[/green]",
        "undetermined": "[dim]?[/dim]",
    }
    names = {r["definition"]: r["name"] for r in rows}
    table = Table(title="Collapse by definition (Schaeffer et al. 2025); ? = undetermined", title_justify="left")
    table.add_column("setting", no_wrap=True)
    table.add_column("workflow", no_wrap=True)
    for d in sorted(names):
        table.add_column(str(d), justify="center")
    grouped: dict[tuple[str, str], dict[int, str]] = {}
    for r in rows:
        grouped.setdefault((r["setting"], r["workflow"]), {})[r["definition"]] = short[r["outcome"]]
    for (setting, workflow), verdicts in grouped.items():
        table.add_row(setting, workflow, *(verdicts.get(d, "") for d in sorted(names)))
    console.print(table)
    console.print("  ".join(f"{d}: {n}" for d, n in sorted(names.items())), highlight=False)
    evidence = Table(title="evidence of collapse", title_justify="left")
    for col in ("setting", "workflow", "definition", "metric", "statistic", "threshold", "first gen", "z"):
        evidence.add_column(col)
    for r in rows:
        if r["outcome"] == "collapses":
            first = "" if r["first_generation"] is None else str(r["first_generation"])
            evidence.add_row(
                r["setting"],
                r["workflow"],
                str(r["definition"]),
                str(r["metric"]),
                f"{r['statistic']:.4g}",
                r["threshold"],
                first,
                f"{r['confidence']:.1f}",
            )
    console.print(evidence)


def _print_timeline(rows: list[dict[str, Any]]) -> None:
    table = Table(
        title="Early warning: first generation each definition fired; lead = generations before the test loss rose",
        title_justify="left",
    )
    for col in ("setting", "workflow", "first gen", "definition", "metric", "lead", "verdict at the end"):
        table.add_column(col)
    for r in rows:
        lead = "" if r["lead"] is None else f"{r['lead']:+d}"
        table.add_row(
            escape(r["setting"]),
            escape(r["workflow"]),
            str(r["first_generation"]),
            f"{r['definition']}. {r['name']}",
            escape(str(r["metric"])),
            lead,
            r["outcome"],
        )
    console.print(table)


theory_app = typer.Typer(help="Closed-form theory (THEORY.md) as tools.", no_args_is_help=True)
app.add_typer(theory_app, name="theory")


@theory_app.command("workflows")
def theory_workflows(
    generations: Annotated[int, typer.Option("--generations", "-g", min=1, help="generations K")] = 10,
    rule: Annotated[
        list[str] | None,
        typer.Option(
            "--rule",
            "-r",
            help="a workflow as in configs, KIND[:ARG]: replace | accumulate | real-plus-last[:SHARE] | window[:K] "
            "| fresh[:FRACTION] | mix[:FRACTION] (aliases: discard, augment, real+last)",
        ),
    ] = None,
    matrix: Annotated[
        Path | None, typer.Option("--matrix", help="YAML list of rows of shares (row k-1: model k)")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="write the figure here (PNG and PDF)")] = None,
) -> None:
    """Dey & Donoho's rho_k (risk relative to the real-data fit) for workflows, ranked."""
    from modelcollapse.report.calculator import LONG, draw, evaluate, long_run

    rules = rule or ["replace", "accumulate", "real-plus-last", "window:2", "fresh:0.5", "mix:1"]
    try:
        curves = evaluate(rules, generations, matrix)
    except ValueError as e:
        _fail(str(e))
    ranked = sorted(curves.items(), key=lambda kv: kv[1][-1])
    shown = sorted({1, 2, min(5, generations), generations})
    table = Table(title=f"rho_k: risk of model k / risk of the real-data fit (K = {generations})", title_justify="left")
    table.add_column("rank")
    table.add_column("workflow", no_wrap=True)
    for k in shown:
        table.add_column(f"k={k}", justify="right")
    table.add_column(f"k={LONG}", justify="right")
    for i, (label, rho) in enumerate(ranked, start=1):
        far = long_run(label, matrix)
        table.add_row(str(i), label, *(f"{rho[k - 1]:.4f}" for k in shown), "" if far is None else f"{far:.4f}")
    console.print(table)
    if out is not None:
        console.print(str(draw(curves, out)))


for _command in (*app.registered_commands, *theory_app.registered_commands):
    _command.callback = _guarded(_command.callback)  # type: ignore[arg-type]


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:  # between commands' own handling, e.g. while importing
        err.print("interrupted")
        sys.exit(130)
