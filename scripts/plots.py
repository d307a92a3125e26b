"""Figures of docs/results.md from JSON-line figure files (see scripts/plots)."""
import json
import os
import re
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

out_dir, files = sys.argv[1], sys.argv[2:]
os.makedirs(out_dir, exist_ok=True)
runs = []  # one dict per file: name -> value
for path in files:
    figs = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                d = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(d.get("value"), (int, float)):
                figs[d["name"]] = float(d["value"])
    runs.append(figs)


def values(name):
    return [r[name] for r in runs if name in r]


def curve(pattern):
    pts = defaultdict(list)
    rx = re.compile(pattern)
    for r in runs:
        for k, v in r.items():
            m = rx.fullmatch(k)
            if m:
                pts[float(m.group(1))].append(v)
    xs = sorted(pts)
    return xs, [sum(pts[x]) / len(pts[x]) for x in xs]


written = []


def save(fig, name):
    fig.tight_layout()
    fig.savefig(f"{out_dir}/{name}", dpi=110)
    plt.close(fig)
    written.append(name)


# 1. traffic-weighted coverage vs share of pairs asked: segmented vs random
xs, seg = curve(r"pairs\.segmented\.coverage_at_([0-9.]+)pct")
xr, rnd = curve(r"pairs\.random\.coverage_at_([0-9.]+)pct")
if xs:
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    ax.plot(xs, seg, "o-", label="segmented pairs")
    ax.plot(xr, rnd, "s--", label="random pairs")
    ax.set_xlabel("LLM calls (% of all entity pairs)")
    ax.set_ylabel("complementary traffic covered")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend()
    save(fig, "coverage_vs_calls.png")

# 2. learned-weight Spearman vs feedback volume
xe, rho = curve(r"graph\.feedback\.spearman\.events_([0-9.]+)")
if xe:
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    ax.semilogx(xe, rho, "o-", label="learned weight")
    llm = values("graph.llm_only.spearman")
    if llm:
        ax.axhline(sum(llm) / len(llm), color="gray", ls="--", label="LLM confidence alone")
    ax.set_xlabel("feedback events")
    ax.set_ylabel("Spearman with hidden strength")
    ax.grid(alpha=0.3)
    ax.legend()
    save(fig, "spearman_vs_feedback.png")


def bars(methods, metric, title, ylabel, name, ci=False):
    labels, means, lo, hi = [], [], [], []
    for m in methods:
        v = values(metric.format(m))
        if not v:
            continue
        mean = sum(v) / len(v)
        if ci and values(metric.format(m) + "_lo"):
            l, h = values(metric.format(m) + "_lo")[0], values(metric.format(m) + "_hi")[0]
        else:
            l, h = min(v), max(v)
        labels.append(m), means.append(mean), lo.append(mean - l), hi.append(h - mean)
    if not labels:
        return
    fig, ax = plt.subplots(figsize=(max(5.5, 0.8 * len(labels)), 3.6))
    ax.bar(range(len(labels)), means, yerr=[lo, hi], capsize=4, color=["C0"] + ["C7"] * (len(labels) - 1))
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=30, ha="right")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    save(fig, name)


demo = ["pipeline", "popularity", "itemcf", "assoc_rules", "u2e2i_only", "no_u2e2i", "no_feedback"]
bars(demo, "demo.{}.recall_at_50", "synthetic marketplace: next purchases (mean, range over runs)", "Recall@50", "demo_recall.png")
bars(["pipeline", "popularity", "itemcf", "assoc_rules", "base_ranker", "no_eei", "no_contrastive", "no_feedback"],
     "demo.{}.auc", "synthetic marketplace: held-out complementary exposures", "AUC", "demo_auc.png")
groc = ["pipeline", "no_eei", "llm_graph", "cold_rule", "assoc_rules", "itemcf", "popularity"]
bars(groc, "groceries.{}.recall_at_10", "Groceries basket completion (95% CI)", "Recall@10", "groceries_recall.png", ci=True)
bars(groc, "groceries.{}.recall_at_10_cold", "Groceries basket completion, cold-start items (95% CI)", "Recall@10 (cold)",
     "groceries_recall_cold.png", ci=True)
bars(groc, "groceries.{}.next_basket_recall_at_10", "Groceries next basket (95% CI)", "Recall@10", "groceries_next_basket.png", ci=True)

print("wrote " + ", ".join(f"{out_dir}/{w}" for w in written) if written else "no figures found in the input", file=sys.stderr)
