"""The three-way switch ("auto"/"on"/"off") is read in one place: ``neuromorph.config.tri_state``."""
import pytest

from neuromorph.config import TRI_STATE_CHOICES, load_config, tri_state


def test_tri_state_maps_each_spelling():
    assert [tri_state(v) for v in TRI_STATE_CHOICES] == [None, True, False]


@pytest.mark.parametrize("bad", ["yes", "On", "", True, None])
def test_tri_state_rejects_other_values(bad):
    with pytest.raises(ValueError, match="auto"):
        tri_state(bad)


def test_config_accepts_exactly_the_tri_state_spellings():
    for v in TRI_STATE_CHOICES:
        assert load_config(overrides={"quantize.adapt": v})["quantize"]["adapt"] == v
    with pytest.raises(ValueError, match="quantize.adapt"):
        load_config(overrides={"quantize.adapt": "yes"})
