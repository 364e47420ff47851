"""Text documents from files, whatever their format: the unit of the text source's train/test split.

A path is read by what it is:

- a folder written by Hugging Face ``datasets`` (``save_to_disk``): the ``column`` of every row, one group
  per split of a ``DatasetDict`` (its ``test`` or ``validation`` split is the held-out one);
- ``.jsonl`` / ``.json`` (JSON lines), ``.csv``, ``.tsv``, ``.parquet``: the ``column`` of every row;
- any other file: plain text, records separated by lines holding ``%`` (fortunes) or by blank lines;
- any other folder: each of its files, in name order.

Files are untrusted: a file over :data:`MAX_BYTES` is refused before it is read, a missing column is named
with the columns there are, and a cell that is not text is an error, not a guess.
"""

from __future__ import annotations

import re
from pathlib import Path

MAX_BYTES = 2**30  # per file (a datasets folder: its Arrow files together)
TABLES = (".jsonl", ".json", ".csv", ".tsv", ".parquet")
HELD_OUT_SPLITS = ("test", "validation")
DATASET_MARKERS = ("dataset_info.json", "dataset_dict.json", "state.json")


def is_dataset_folder(path: Path) -> bool:
    return path.is_dir() and any((path / name).is_file() for name in DATASET_MARKERS)


def expand(paths: tuple[str, ...]) -> list[Path]:
    """The units of a list of paths: files, and datasets folders kept whole."""
    out: list[Path] = []
    for p in map(Path, paths):
        if is_dataset_folder(p) or p.is_file():
            out.append(p)
        elif p.is_dir():
            out += [q for q in sorted(p.iterdir()) if q.is_file() or is_dataset_folder(q)]
        else:
            raise FileNotFoundError(2, "no such file or folder", str(p))
    return out


def read_records(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8", errors="replace")
    parts = re.split(r"^%\s*$", text, flags=re.M) if re.search(r"^%\s*$", text, flags=re.M) else text.split("\n\n")
    return [p.strip() for p in parts if p.strip()]


def read(path: Path, column: str = "text") -> dict[str, list[str]]:
    """``{label: documents}``: one entry for a file, one per split for a datasets folder."""
    _check_size(path)
    if path.is_dir():
        return _dataset(path, column)
    suffix = path.suffix.lower()
    if suffix not in TABLES:
        return {str(path): read_records(path)}
    import pandas as pd

    if suffix == ".parquet":
        import pyarrow.parquet as pq

        have = pq.read_schema(path).names
        _has(path, column, have)
        frame = pd.read_parquet(path, columns=[column])
    elif suffix in (".jsonl", ".json"):
        frame = pd.read_json(path, lines=True, dtype=False)
    else:
        frame = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",", dtype=str, keep_default_na=False)
    _has(path, column, list(frame.columns))
    return {str(path): _texts(frame[column].tolist(), path, column)}


def _dataset(path: Path, column: str) -> dict[str, list[str]]:
    try:
        import datasets
    except ImportError:
        raise ValueError(
            f"source.paths: {str(path)[:80]} is a Hugging Face datasets folder; pip install 'modelcollapse[datasets]'"
        ) from None
    loaded = datasets.load_from_disk(str(path))
    splits = loaded.items() if isinstance(loaded, datasets.DatasetDict) else [("", loaded)]
    out = {}
    for split, part in splits:
        _has(path, column, list(part.column_names))
        out[f"{path}[{split}]" if split else str(path)] = _texts(part[column], path, column)
    return out


def held_out(labels: list[str]) -> set[str] | None:
    """The labels of a datasets folder's held-out splits, or None when there are none."""
    found = {label for label in labels if any(label.endswith(f"[{s}]") for s in HELD_OUT_SPLITS)}
    return found or None


def _check_size(path: Path) -> None:
    files = [f for f in path.rglob("*") if f.is_file()] if path.is_dir() else [path]
    size = sum(f.stat().st_size for f in files)
    if size > MAX_BYTES:
        raise ValueError(f"source.paths: {str(path)[:80]} holds {size:,} bytes; at most {MAX_BYTES:,} are read")


def _has(path: Path, column: str, columns: list[str]) -> None:
    if column not in columns:
        there = ", ".join(repr(str(c)[:40]) for c in columns[:20])
        raise ValueError(f"source.column: {column[:40]!r} is not a column of {str(path)[:80]}; it has: {there}")


def _texts(values: list[object], path: Path, column: str) -> list[str]:
    for i, v in enumerate(values):
        if not isinstance(v, str):
            raise ValueError(
                f"source.column: row {i} of {column[:40]!r} in {str(path)[:80]} is {type(v).__name__}, not text"
            )
    return [v.strip() for v in values if isinstance(v, str) and v.strip()]
