"""The shared run options of the reproductions (``iterations``, ``repetitions``)."""
import pytest

from neuromorph.experiments import fig2, fig3, fig4, fig5, fig7, fig8
from neuromorph.experiments.options import count_option


def test_count_option_default_and_values():
    assert count_option("iterations", None, 300) == 300
    assert count_option("iterations", 12, 300) == 12
    assert count_option("repetitions", 2.0) == 2
    for bad in (0, -3, 1.5):
        with pytest.raises(ValueError, match=r"iterations must be >= 1 \(a positive number of 1000-step blocks\)"):
            count_option("iterations", bad, 300, "1000-step blocks")
    with pytest.raises(ValueError, match="repetitions must be >= 1"):
        count_option("repetitions", None)  # no value and no default


@pytest.mark.parametrize("mod", [fig2, fig3, fig4, fig5, fig7, fig8])
def test_every_experiment_rejects_zero_iterations(mod, tmp_path):
    # 0 used to mean "the default" in fig2-fig5 (a full-length run); now it is refused up front
    with pytest.raises(ValueError, match="iterations must be >= 1"):
        mod.run(tmp_path / "x", iterations=0, quick=True, progress=False)
    assert not (tmp_path / "x" / "metrics.json").exists()
