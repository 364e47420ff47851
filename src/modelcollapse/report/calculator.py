"""The workflow calculator: rho_k of named rules or a user's weight matrix (Dey & Donoho, THEORY.md s4)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml
from pydantic import ValidationError

from modelcollapse.registry import WORKFLOWS
from modelcollapse.theory import dey_donoho as dd


def rule_curve(rule: str, k: int) -> np.ndarray:
    """rho_1..rho_k of a workflow named as in configs, ``KIND[:ARG]``: ``replace``, ``accumulate``, ``window:3``,
    ``fresh:0.5``, ``mix:1``, ``real-plus-last:0.7`` (aliases ``discard``, ``augment``, ``real+last``).

    ``ARG`` sets the field the workflow names as its ``theory_argument``; the curve is the workflow's own ``rho``.
    """
    name, _, arg = rule.partition(":")
    cls = WORKFLOWS.get(name)
    if cls is None or name not in rules():
        raise ValueError(f"--rule {rule!r}: unknown rule; allowed: {', '.join(_usage())}")
    fields: dict[str, object] = {"kind": WORKFLOWS.canonical(name)}
    field = cls.theory_argument  # type: ignore[attr-defined]
    if arg:
        if field is None:
            raise ValueError(f"--rule {rule!r}: {name} takes no argument")
        fields[field] = arg
    try:
        curve = cls.model_validate(fields).rho(None, k)  # type: ignore[attr-defined]
    except ValidationError as err:
        raise ValueError(f"--rule {rule!r}: bad argument {arg!r}: {err.errors()[0]['msg']}") from None
    return np.asarray(curve)


def rules() -> dict[str, str | None]:
    """The workflows (and aliases) whose rho the calculator can draw, with the field their ``:ARG`` sets."""
    out: dict[str, str | None] = {}
    for kind, cls in WORKFLOWS.items():
        if isinstance(cls, ImportError):
            continue
        try:
            ok = cls.model_validate({"kind": kind}).rho(None, 2) is not None  # type: ignore[attr-defined]
        except ValidationError:  # needs fields no argument gives (e.g. a weights matrix: --matrix)
            ok = False
        if ok:
            out |= {a: cls.theory_argument for a in [kind, *WORKFLOWS.aliases(kind)]}  # type: ignore[attr-defined]
    return out


def _usage() -> list[str]:
    return [f"{k}[:{f.upper()}]" if f else k for k, f in rules().items()]


LONG = 500  # a long horizon, to tell a plateau (pi^2/6, 4/3, ...) from growth


def long_run(rule: str, matrix: Path | None = None) -> float | None:
    """rho at generation LONG for a named rule; None for a user matrix (it has its own length)."""
    if rule.startswith("matrix "):
        return None
    return float(rule_curve(rule, LONG)[-1])


def evaluate(rules: list[str], k: int, matrix: Path | None = None) -> dict[str, np.ndarray]:
    curves = {r: rule_curve(r, k) for r in rules}
    if matrix is not None:
        rows = yaml.safe_load(Path(matrix).read_text())
        if not isinstance(rows, list) or len(rows) < k:
            raise ValueError(f"--matrix {matrix}: needs a list of at least {k} rows of shares")
        curves[f"matrix {Path(matrix).name}"] = dd.rho(rows[:k])
    return curves


def draw(curves: dict[str, np.ndarray], out: Path) -> Path:
    from modelcollapse.report.figures import _pyplot
    from modelcollapse.report.untrusted import plain

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.0, 3.4))
    for label, rho in sorted(curves.items(), key=lambda kv: -kv[1][-1]):
        ax.plot(np.arange(1, len(rho) + 1), rho, marker="o", ms=2.5, lw=1.2, label=plain(label))
    ax.axhline(np.pi**2 / 6, color="black", ls=":", lw=0.8, label="π²/6")
    ax.set_xlabel("generation k")
    ax.set_ylabel("ρ_k = risk / risk of real-data fit")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, frameon=False)
    ax.set_title("Workflows judged by the Gaussian-process limit (Dey & Donoho)", fontsize=9)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    path = out if out.suffix == ".png" else out.with_suffix(".png")
    fig.savefig(path)
    fig.savefig(path.with_suffix(".pdf"))
    plt.close(fig)
    return path
