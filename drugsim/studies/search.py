"""The search chapter (notebook 11) around the search timing: its table, the numbers it glues, its figure.

The measurements are :func:`drugsim.evaluation.search_speed.dataset_search` (leave-one-out search of the
test images, brute force against exact and approximate FAISS indexes) and
:func:`drugsim.evaluation.search_speed.bench_search` (synthetic galleries as they grow).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def search_table(results: Sequence[dict[str, Any]]):
    """DataFrame (method, search) -> precision@1, MAP@R, queries/s, agreement with brute force."""
    import pandas as pd

    records = []
    for result in results:
        for kind, row in result["rows"].items():
            records.append(
                {
                    "method": result["method"],
                    "search": kind.replace("_", " "),
                    "precision@1": row["precision_at_1"],
                    "MAP@R": row["map_at_r"],
                    "queries/s": row["queries_per_second"],
                    "same as brute force": row["scores_equal_brute_force"],
                }
            )
    return pd.DataFrame(records).set_index(["method", "search"])


def glue_search(
    results: Sequence[dict[str, Any]], scale: dict[str, Any] | None = None, *, prefix: str = "search"
) -> dict[str, str]:
    """Glue every number the search chapter quotes and return them.

    From :func:`dataset_search` results: ``{prefix}_n_gallery``, ``{prefix}_n_classes``,
    ``{prefix}_flat_equals_brute`` (smallest share of queries whose exact-index neighbours score as the
    brute-force ones) and per method and search ``{prefix}_{method}_{search}_{p1,mapr,qps}``. From a
    :func:`bench_search` result: ``{prefix}_scale_largest`` and, at the largest gallery, per feature type
    (float, hash) and approximate kind ``{prefix}_scale_{features}_{kind}_{qps,recall,speedup}`` and
    ``{prefix}_scale_{features}_flat_qps``.
    """
    from drugsim.report import glue

    values: dict[str, str] = {}
    if results:
        values[f"{prefix}_n_gallery"] = f"{results[0]['n_gallery']:,}"
        values[f"{prefix}_n_classes"] = f"{results[0]['n_classes']:,}"
        values[f"{prefix}_flat_equals_brute"] = (
            f"{min(r['rows']['flat']['scores_equal_brute_force'] for r in results):.3f}"
        )
        for result in results:
            for kind, row in result["rows"].items():
                key = f"{prefix}_{result['method']}_{kind}"
                values[f"{key}_p1"] = f"{row['precision_at_1']:.3f}"
                values[f"{key}_mapr"] = f"{row['map_at_r']:.3f}"
                values[f"{key}_qps"] = f"{row['queries_per_second']:,.0f}"
    if scale is not None:
        largest = max(scale["sizes"])
        values[f"{prefix}_scale_largest"] = f"{largest:,}"
        values[f"{prefix}_scale_k"] = str(scale["k"])
        for row in scale["rows"]:
            if row["gallery_size"] != largest:
                continue
            key = f"{prefix}_scale_{row['features']}_{row['kind']}"
            values[f"{key}_qps"] = f"{row['queries_per_second']:,.0f}"
            if row["kind"] != "flat":
                values[f"{key}_recall"] = f"{row['recall_at_k']:.3f}"
                values[f"{key}_speedup"] = f"{row['speedup']:.1f}"
    for key, value in values.items():
        glue(key, value)
    return values


def plot_search_benchmark(result: dict[str, Any], *, axes: Sequence[Any] | None = None):
    """Two panels: queries/s and recall@k against gallery size, one line per feature type and index kind.

    Args:
        result: what :func:`bench_search` returned.
        axes: two matplotlib axes to draw on; None = a new figure.

    Returns:
        The two axes.
    """
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    speed_ax, recall_ax = axes
    series: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in result["rows"]:
        series.setdefault((row["features"], row["kind"]), []).append(row)
    colours = {"flat": "tab:blue", "ivf": "tab:orange", "hnsw": "tab:green"}
    for (features, kind), rows in series.items():
        rows = sorted(rows, key=lambda r: r["gallery_size"])
        sizes = [r["gallery_size"] for r in rows]
        style = dict(
            linestyle="-" if features == "float" else "--",
            marker="o" if features == "float" else "s",
            color=colours.get(kind),
            label=f"{features}, {kind}",
        )
        speed_ax.plot(sizes, [r["queries_per_second"] for r in rows], **style)
        recall_ax.plot(sizes, [r["recall_at_k"] for r in rows], **style)
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("gallery size (images)")
        ax.grid(True, alpha=0.3)
    speed_ax.set_yscale("log")
    speed_ax.set_ylabel("queries per second")
    recall_ax.set_ylabel(f"recall@{result['k']} vs exact")
    lowest = min(r["recall_at_k"] for r in result["rows"])
    recall_ax.set_ylim(min(0.9, lowest - 0.02), 1.005)
    recall_ax.legend(fontsize=8)
    return axes



def markdown_search_table(result: dict[str, Any]) -> str:
    """The search-at-scale table as Markdown: queries/s, speedup over exact, recall@k, build time."""
    lines = [
        f"| gallery | features | index | queries/s | vs exact | recall@{result['k']} | build s |",
        "|---:|---|---|---:|---:|---:|---:|",
    ]
    for row in result["rows"]:
        lines.append(
            f"| {row['gallery_size']:,} | {row['features']} | {row['kind']} | "
            f"{row['queries_per_second']:,.0f} | {row['speedup']:.1f}x | {row['recall_at_k']:.3f} | "
            f"{row['build_seconds']:.2f} |"
        )
    return "\n".join(lines)
