#!/usr/bin/env python3
"""Plot speedup and parallel efficiency from a scaling.csv written by jobs/scaling.sh.

    python3 jobs/plot_scaling.py runs/scaling/scaling.csv runs/scaling/scaling.png

Left: speedup T1/TP of the strong-scaling runs (with the ideal line); right: efficiency of the strong
and the weak runs (throughput per rank relative to one rank). Needs matplotlib only.
"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(src, dst):
    rows = {}
    with open(src, newline="") as fh:
        for r in csv.DictReader(fh):
            rows.setdefault(r["mode"], []).append(r)
    fig, (ax_s, ax_e) = plt.subplots(1, 2, figsize=(10, 4.2))
    all_ranks = sorted({int(r["ranks"]) for rs in rows.values() for r in rs})
    strong = sorted(rows.get("strong", []), key=lambda r: int(r["ranks"]))
    if strong:
        p = [int(r["ranks"]) for r in strong]
        t = [float(r["wall_seconds"]) for r in strong]
        ax_s.plot(p, [t[0] / x for x in t], "o-", label=f"strong, n = {strong[0]['n']}")
        ax_s.plot(p, [x / p[0] for x in p], "k--", lw=1, label="ideal")
        ax_s.legend()
    else:
        ax_s.text(0.5, 0.5, "no strong-scaling runs", ha="center", transform=ax_s.transAxes)
    ax_s.set_xlabel("MPI ranks")
    ax_s.set_ylabel("speedup $T_1 / T_P$")
    ax_s.set_title("strong scaling")
    for mode, marker in (("strong", "o-"), ("weak", "s-")):
        rs = sorted(rows.get(mode, []), key=lambda r: int(r["ranks"]))
        if rs:
            ax_e.plot([int(r["ranks"]) for r in rs], [float(r["efficiency"]) for r in rs], marker,
                      label=mode)
    ax_e.axhline(1.0, color="k", ls="--", lw=1)
    ax_e.set_ylim(bottom=0)
    ax_e.set_xlabel("MPI ranks")
    ax_e.set_ylabel("parallel efficiency")
    ax_e.set_title("efficiency (cell updates/s per rank vs 1 rank)")
    ax_e.legend()
    for ax in (ax_s, ax_e):
        ax.set_xscale("log", base=2)
        ax.set_xticks(all_ranks)
        ax.set_xticklabels([str(x) for x in all_ranks])
        ax.grid(True, alpha=0.3)
    steps = next((r["steps"] for rs in rows.values() for r in rs), "?")
    fig.suptitle(f"nlfp forward, {steps} steps per run")
    fig.tight_layout()
    fig.savefig(dst, dpi=120)
    print(f"plot_scaling: wrote {dst}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: plot_scaling.py scaling.csv scaling.png")
    main(sys.argv[1], sys.argv[2])
