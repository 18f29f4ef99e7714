"""The Markdown report of ``neuromorph reproduce``."""
import numpy as np

from neuromorph.experiments.report import render_report, write_report


def _metrics(**extra):
    m = {"format_version": 1, "experiment": "fig8", "quick": False, "seed": 3, "wall_seconds": 12.4,
         "checks": {"lesion_raises_E_rate": True, "feedforward_only_least_efficient": False},
         "summary": {"error_by_condition": {"none": 0.0971, "full": 0.06712}, "big_table": {str(i): i for i in range(30)}},
         "n_lesioned_E": 18, "notes": "errors are normalised", "curve": list(range(100)),
         "ratio": np.float64(1.23456), "figures": ["fig8_summary.png", "data.npz"],
         "provenance": {"neuromorph": "0.1.0", "seed": 3}}
    m.update(extra)
    return m


def test_report_lists_statements_numbers_and_figures():
    text = render_report(_metrics())
    assert text.startswith("# `neuromorph reproduce fig8`")
    assert "seed 3; full protocol; 12 s; neuromorph 0.1.0" in text
    assert "1 of 2 hold." in text
    assert "| lesion raises E rate | yes |" in text and "| feedforward only least efficient | **no** |" in text
    # short dicts on one line, 4 significant digits; long tables and arrays are left to metrics.json
    assert "- **error_by_condition**: none: 0.0971, full: 0.06712" in text
    assert "big_table" not in text and "curve" not in text
    assert "- **n_lesioned_E**: 18" in text and "- **ratio**: 1.235" in text
    assert "![fig8_summary](fig8_summary.png)" in text and "data.npz" not in text


def test_report_with_per_seed_pass_counts_and_without_checks():
    m = _metrics(checks_pass_count={"lesion_raises_E_rate": 5, "feedforward_only_least_efficient": 2},
                 checks_per_repetition=[{}] * 5)
    text = render_report(m)
    assert "seeds passing (of 5)" in text and "| lesion raises E rate | yes | 5 |" in text
    m.pop("checks")
    assert "statements" not in render_report(m)


def test_short_lists_of_flat_records_become_tables():
    rows = [{"comparison": "recurrent_only / none", "geo_mean_ratio": 0.6986, "first_lower_in": 3},
            {"comparison": "full / none", "geo_mean_ratio": 0.68857, "first_lower_in": 5}]
    text = render_report(_metrics(paired_comparisons=rows, ragged=[{"a": 1}, {"b": 2}],
                                  nested=[{"a": {"x": 1}}]))
    assert "## paired comparisons" in text
    assert "| comparison | geo_mean_ratio | first_lower_in |" in text
    assert "| full / none | 0.6886 | 5 |" in text
    assert "ragged" not in text and "nested" not in text


def test_long_number_lists_are_cut_and_write_is_atomic(tmp_path):
    m = _metrics(**{f"k{i}": float(i) for i in range(60)})
    text = render_report(m)
    assert text.count("\n- **") == 40 and "more in `metrics.json`" in text
    p = write_report(tmp_path, m)
    assert p.name == "report.md" and p.read_text() == text
    assert [q.name for q in tmp_path.iterdir()] == ["report.md"]  # no temporary file left behind
