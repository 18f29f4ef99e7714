"""The short Markdown report that ``neuromorph reproduce`` writes next to ``metrics.json``.

One page a person can read without opening JSON: which of the paper's statements hold (the
experiment's ``checks``, with per-seed pass counts where it repeats networks), the headline
numbers, short tables (e.g. Fig 8's paired comparisons), and the figures.  Everything in it is taken from the metrics dict; ``metrics.json``
stays the complete, machine-readable record.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Union

import numpy as np

from neuromorph.artifacts import atomic_write_text

# top-level keys that are bookkeeping, not results
_SKIP = {"format_version", "experiment", "quick", "seed", "figures", "provenance", "checks", "summary",
         "checks_pass_count", "checks_per_repetition", "wall_seconds"}
_MAX_ROWS = 40  # numbers listed before "… see metrics.json"


def _fmt(v: Any) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        v = float(v)
        return "nan" if not np.isfinite(v) else f"{v:.4g}"
    return str(v)


def _scalar(v: Any) -> bool:
    return isinstance(v, (bool, int, float, str, np.bool_, np.integer, np.floating))


def _value(v: Any):
    """A scalar, or a short dict/list of scalars rendered on one line; None if neither."""
    if _scalar(v):
        return _fmt(v)
    if isinstance(v, dict) and 0 < len(v) <= 12 and all(_scalar(x) for x in v.values()):
        return ", ".join(f"{k}: {_fmt(x)}" for k, x in v.items())
    if isinstance(v, (list, tuple)) and 0 < len(v) <= 12 and all(_scalar(x) for x in v):
        return ", ".join(_fmt(x) for x in v)
    return None


def _table(rows: Any):
    """Markdown table lines for a short list of flat dicts with the same keys; None otherwise."""
    if not (isinstance(rows, list) and 0 < len(rows) <= 30 and all(isinstance(r, dict) for r in rows)):
        return None
    keys = list(rows[0])
    if not keys or any(list(r) != keys or not all(_scalar(v) for v in r.values()) for r in rows):
        return None
    out = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    out += ["| " + " | ".join(_fmt(r[k]) for k in keys) + " |" for r in rows]
    return out


def render_report(metrics: dict) -> str:
    """Markdown text of the report for one ``reproduce`` run (``metrics`` as written to JSON)."""
    exp = str(metrics.get("experiment", "experiment"))
    prov = metrics.get("provenance") or {}
    lines = [f"# `neuromorph reproduce {exp}`", ""]
    facts = [f"seed {_fmt(metrics.get('seed', prov.get('seed', '?')))}"]
    if "quick" in metrics:
        facts.append("quick (shortened) protocol" if metrics["quick"] else "full protocol")
    if "wall_seconds" in metrics:
        facts.append(f"{float(metrics['wall_seconds']):.0f} s")
    if "neuromorph" in prov:
        facts.append(f"neuromorph {prov['neuromorph']}")
    lines += ["; ".join(facts) + ". Complete numbers: `metrics.json`.", ""]

    checks = metrics.get("checks")
    if isinstance(checks, dict) and checks:
        counts = metrics.get("checks_pass_count") or {}
        n_rep = len(metrics.get("checks_per_repetition") or [])
        held = sum(bool(v) for v in checks.values())
        lines += ["## The paper's statements", "",
                  f"{held} of {len(checks)} hold" + (" (on the mean over repetitions)." if counts else "."), ""]
        head = "| statement | holds |" + (f" seeds passing (of {n_rep}) |" if counts else "")
        lines += [head, "|---|---|" + ("---|" if counts else "")]
        for name, ok in checks.items():
            row = f"| {name.replace('_', ' ')} | {'yes' if ok else '**no**'} |"
            if counts:
                row += f" {_fmt(counts.get(name, ''))} |"
            lines.append(row)
        lines.append("")

    rows = []
    summary = metrics.get("summary")
    for src in ((summary.items() if isinstance(summary, dict) else []),
                ((k, v) for k, v in metrics.items() if k not in _SKIP)):
        for k, v in src:
            text = _value(v)
            if text is not None:
                rows.append(f"- **{k}**: {text}")
    if rows:
        lines += ["## Numbers", ""]
        lines += rows[:_MAX_ROWS]
        if len(rows) > _MAX_ROWS:
            lines.append(f"- … {len(rows) - _MAX_ROWS} more in `metrics.json`")
        lines.append("")

    for k, v in metrics.items():
        table = None if k in _SKIP else _table(v)
        if table:
            lines += [f"## {k.replace('_', ' ')}", ""] + table + [""]

    figs = [f for f in metrics.get("figures") or [] if str(f).endswith(".png")]
    if figs:
        lines += ["## Figures", ""]
        lines += [f"![{Path(f).stem}]({f})" for f in figs]
        lines.append("")
    return "\n".join(lines)


def write_report(out_dir: Union[str, Path], metrics: dict) -> Path:
    """Write ``report.md`` into ``out_dir`` atomically; returns its path."""
    return atomic_write_text(Path(out_dir) / "report.md", render_report(metrics))
