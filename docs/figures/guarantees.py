"""Draws guarantees.png: how a run or a merge is checked against a results folder (python guarantees.py)."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

BOXES = {
    "config": (0.12, 0.8, "run CONFIG\nor merge SRC"),
    "identity": (0.12, 0.5, "identity:\nshared number-changing\nfields + sweep axes"),
    "folder": (0.12, 0.2, "DIR/results.duckdb\n(experiments table)"),
    "same": (0.55, 0.72, "same identity?"),
    "yes": (0.86, 0.86, "write chunks\n(one transaction each):\nresume, new cells,\nnew name, replicates"),
    "no": (0.86, 0.5, "refused, one line:\nsource.dim is 2 there,\n8 here; DIR untouched"),
    "read": (0.55, 0.22, "readers see the replicates\nthe last run asked for"),
}
ARROWS = [  # (from, its side, to, its side): sides as fractions of each box
    ("config", (0.5, 0), "identity", (0.5, 1)),
    ("identity", (1, 0.5), "same", (0, 0.5)),
    ("folder", (1, 0.6), "same", (0.3, 0)),
    ("same", (1, 0.7), "yes", (0, 0.5)),
    ("same", (1, 0.3), "no", (0, 0.5)),
    ("folder", (1, 0.4), "read", (0, 0.5)),
]


def main() -> None:
    fig, ax = plt.subplots(figsize=(9, 4.2))
    ax.set_axis_off()
    box = {"boxstyle": "round,pad=0.4", "fc": "#eef3fb", "ec": "#4a6fa5"}
    drawn = {k: ax.text(x, y, t, ha="center", va="center", fontsize=9, bbox=box) for k, (x, y, t) in BOXES.items()}
    for a, side_a, b, side_b in ARROWS:
        ax.annotate(
            "",
            side_b,
            side_a,
            xycoords=drawn[b],
            textcoords=drawn[a],
            arrowprops={"arrowstyle": "->", "color": "#555", "shrinkA": 6, "shrinkB": 6},
        )
    ax.text(0.66, 0.8, "yes", fontsize=8, color="#2a7a2a")
    ax.text(0.66, 0.6, "no", fontsize=8, color="#a02a2a")
    fig.savefig(Path(__file__).with_name("guarantees.png"), dpi=110, bbox_inches="tight")


if __name__ == "__main__":
    main()
