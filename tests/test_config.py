import pytest

from compact.config import ModelConfig


def test_single_level_default_keeps_its_old_serialisation():
    config = ModelConfig()
    assert config.levels == (16,) and config.qualities == 1
    assert "levels" not in config.to_dict()  # model ids of single-level models stay as they were
    assert ModelConfig.from_dict(config.to_dict()) == config


def test_levels_map_qualities_to_channel_counts():
    config = ModelConfig(latent_channels=64, levels=(8, 16, 32, 64))
    assert [config.channels_for(q) for q in range(1, 5)] == [8, 16, 32, 64]
    assert config.default_quality == 2  # the paper's 16-channel operating point
    assert config.channels_for(None) == 16
    assert config.quality_of(32) == 3 and config.quality_of(12) is None
    assert ModelConfig.from_dict(config.to_dict()) == config
    assert ModelConfig(latent_channels=32, levels=(8, 32)).default_quality == 2  # no 16: the top level
    for bad in (0, 5):
        with pytest.raises(ValueError, match="quality must be 1..4"):
            config.channels_for(bad)


@pytest.mark.parametrize("levels", [(16, 8, 64), (8, 8, 64), (8, 16), (0, 64)])
def test_invalid_levels_are_rejected(levels):
    with pytest.raises(ValueError, match="levels"):
        ModelConfig(latent_channels=64, levels=levels)
