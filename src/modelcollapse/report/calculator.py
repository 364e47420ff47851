"""The workflow calculator: rho_k of named rules or a user's weight matrix (Dey & Donoho, THEORY.md s4)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from modelcollapse.theory import dey_donoho as dd


def rule_curve(rule: str, k: int) -> np.ndarray:
    """rho_1..rho_k of one named rule, e.g. ``discard``, ``real+last:0.7``, ``window:3``, ``fresh:0.5``, ``mix:1``."""
    name, _, arg = rule.partition(":")
    try:
        if name == "discard":
            return dd.rho(dd.discard(k))
        if name == "augment":
            return dd.rho(dd.augment(k))
        if name == "real+last":
            return dd.rho(dd.real_plus_last(k, float(arg) if arg else 0.5))
        if name == "window":
            return dd.rho(dd.window(k, int(arg)))
        if name == "fresh":
            return dd.fresh(k, float(arg))
        if name == "mix":
            return dd.rho(*dd.mix(k, float(arg)))
    except ValueError:
        raise ValueError(f"--rule {rule!r}: bad argument {arg!r}") from None
    raise ValueError(
        f"--rule {rule!r}: unknown rule; allowed: discard, augment, real+last[:SHARE], window:K, fresh:LAMBDA, mix:F"
    )


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

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.0, 3.4))
    for label, rho in sorted(curves.items(), key=lambda kv: -kv[1][-1]):
        ax.plot(np.arange(1, len(rho) + 1), rho, marker="o", ms=2.5, lw=1.2, label=label)
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
