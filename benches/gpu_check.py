"""The neural families on a CUDA GPU: device placement, the reproductions at ``--scale``, tokens per second.

Run on a machine with a CUDA GPU (``bash benches/gpu_check.sh`` wraps it): ``python benches/gpu_check.py
[--scale 4] [--replicates 1] [--out results/gpu-check] [--only NAME,...]``. Never a test dependency.

1. Placement: for each neural reproduction, its first experiment at ``--scale`` on ``cuda`` fits one
   generation; the network's parameters, the peak CUDA memory and the seconds are printed (a parameter
   left on the CPU fails the check).
2. The reproductions themselves, ``modelcollapse reproduce NAME --scale S --device cuda``, each timed,
   with the lines of ``effect.csv`` (the replace - accumulate gap against the seed spread).
3. Tokens per second of the GPT (training and KV-cached sampling, ``bench_lm.py``) on CUDA and on this
   machine's CPU, measured now, and their ratio.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from modelcollapse import load
from modelcollapse.run.reproduce import available, scaled

NEURAL = ["gerstgrasser2024-lm", "gerstgrasser2024-vae", "diffusion-2d", "molecules-smiles", "gerstgrasser2024-geodiff"]
HERE = Path(__file__).resolve().parent


def placement(name: str, scale: float, device: str = "cuda") -> None:
    repro = available()[name]
    cfg = scaled(repro.experiments[0], repro.scale, scale)
    cfg = {**cfg, "model": {**cfg["model"], "device": device}, "replicates": 1}
    exp = load(cfg)
    fam = exp.family()
    world = exp.source.build().world(1, exp.samples_per_generation, np.random.default_rng(0))
    from modelcollapse.data import Part

    cuda = device.startswith("cuda")
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    fitted = fam.fit([Part(world.train, 1.0)], world, np.random.default_rng(1))
    if cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    net = fitted.models[0]
    devices = {p.device.type for p in net.parameters()}
    params = sum(p.numel() for p in net.parameters())
    peak = torch.cuda.max_memory_allocated() / 2**20 if cuda else float("nan")
    verdict = "ok" if devices == {device.split(":")[0]} else f"FAILED: parameters on {sorted(devices)}"
    print(f"  {name:26s} {exp.model.kind:20s} {params / 1e6:7.2f} M params  peak {peak:8.1f} MiB  "
          f"one generation {seconds:7.1f} s  {verdict}", flush=True)
    if verdict != "ok":
        raise SystemExit(1)


def reproduction(name: str, scale: float, replicates: int, out: Path) -> None:
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "modelcollapse", "reproduce", name, "--out", str(out / name), "--scale", str(scale),
           "--device", "cuda", "--replicates", str(replicates)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    print(f"  {name:26s} exit {done.returncode}  {seconds:8.1f} s", flush=True)
    if done.returncode:
        print("    " + "\n    ".join(done.stderr.strip().splitlines()[-5:]), flush=True)
    effect = out / name / "effect.csv"
    if effect.exists():
        print("    " + "\n    ".join(effect.read_text().strip().splitlines()), flush=True)


def tokens_per_second(device: str) -> dict[str, float]:
    done = subprocess.run([sys.executable, str(HERE / "bench_lm.py"), "--device", device], capture_output=True,
                          text=True, check=True)
    found = {}
    for label, key in (("library", "train"), ("KV cache", "sample")):
        match = re.search(rf"{label}\s+([0-9.]+) tok/s", done.stdout)
        found[key] = float(match.group(1)) if match else float("nan")
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=4.0)
    parser.add_argument("--replicates", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("results/gpu-check"))
    parser.add_argument("--only", default=",".join(NEURAL))
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA GPU here: this check is for a machine with one")
    names = args.only.split(",")
    props = torch.cuda.get_device_properties(0)
    print(f"{props.name}, {props.total_memory / 2**30:.0f} GiB; torch {torch.__version__}, CUDA {torch.version.cuda}")
    print(f"1. placement (one generation at --scale {args.scale:g} on cuda)", flush=True)
    for name in names:
        placement(name, args.scale)
    print(f"2. reproductions at --scale {args.scale:g}, {args.replicates} replicate(s), --device cuda", flush=True)
    for name in names:
        reproduction(name, args.scale, args.replicates, args.out)
    print("3. GPT tokens per second (bench_lm.py: GPT 2x128, vocab 1000)", flush=True)
    gpu, cpu = tokens_per_second("cuda"), tokens_per_second("cpu")
    for key in ("train", "sample"):
        ratio = gpu[key] / cpu[key]
        print(f"  {key:7s} cuda {gpu[key]:12.0f} tok/s   cpu {cpu[key]:10.0f} tok/s   ratio {ratio:7.1f}x")


if __name__ == "__main__":
    main()
