import pytest

torch = pytest.importorskip("torch")

from compact.config import ModelConfig  # noqa: E402
from compact.errors import ConfigError  # noqa: E402
from compact.training.gdn import GDN  # noqa: E402
from compact.training.model import CompactAutoencoder, sign_binarize, stochastic_binarize  # noqa: E402


def test_shapes_and_rate():
    model = CompactAutoencoder(ModelConfig(channels=8, latent_channels=16)).eval()
    x = torch.rand(2, 3, 64, 96)
    y = model.encoder(x)
    assert y.shape == (2, 16, 4, 6)
    assert y.abs().max() <= 1.0
    assert model.decoder(sign_binarize(y)).shape == x.shape
    assert ModelConfig().bits_per_pixel == 16 / 256


def test_sign_binarize_never_zero():
    y = torch.tensor([-0.3, 0.0, -0.0, 0.2])
    assert sign_binarize(y).tolist() == [-1.0, 1.0, 1.0, 1.0]


def test_stochastic_binarize_is_unbiased_and_straight_through():
    torch.manual_seed(0)
    y = torch.full((200_000,), 0.4, requires_grad=True)
    b = stochastic_binarize(y)
    assert set(b.unique().tolist()) == {-1.0, 1.0}
    assert abs(b.mean().item() - 0.4) < 0.01  # E[b] = P(+1) - P(-1) = y
    b.sum().backward()
    assert torch.all(y.grad == 1.0)


def test_gdn_parameters_stay_nonnegative():
    gdn = GDN(4)
    with torch.no_grad():
        gdn.beta_raw.fill_(-3.0)
        gdn.gamma_raw.fill_(-3.0)
    assert torch.all(gdn.beta() > 0) and torch.all(gdn.gamma() >= 0)


def test_gdn_and_inverse_match_their_formulas_at_init():
    # at init beta = 1 and gamma = 0.1 * I, so GDN is x / sqrt(1 + 0.1 x^2) channel by channel
    x = torch.randn(1, 4, 5, 5) * 3
    expected = torch.sqrt(1 + 0.1 * x * x)
    assert torch.allclose(GDN(4)(x), x / expected, atol=1e-5)
    assert torch.allclose(GDN(4, inverse=True)(x), x * expected, atol=1e-5)


def test_nested_channel_dropout_zeroes_unsent_channels():
    from compact.training.model import keep_channels

    bits = torch.ones(3, 8, 2, 2)
    out = keep_channels(bits, torch.tensor([2, 8, 5]))
    assert out[0, :2].eq(1).all() and out[0, 2:].eq(0).all()
    assert out[1].eq(1).all()
    assert out[2, :5].eq(1).all() and out[2, 5:].eq(0).all()


def test_forward_at_a_level_decodes_the_masked_code():
    torch.manual_seed(0)
    model = CompactAutoencoder(ModelConfig(channels=8, latent_channels=16, levels=(4, 16))).eval()
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        bits = sign_binarize(model.encoder(x))
        bits[:, 4:] = 0
        assert torch.equal(model(x, 4), model.decoder(bits))
        assert not torch.equal(model(x, 4), model(x, 16))
    model.train()
    torch.manual_seed(1)
    model(torch.rand(8, 3, 32, 32)).mean().backward()  # the random level per sample trains without error
    assert model.encoder.layers[0].weight.grad is not None


def test_warm_start_keeps_the_old_level_exact(tmp_path):
    from compact.training.checkpoint import save_weights
    from compact.training.train import warm_start

    torch.manual_seed(0)
    old = CompactAutoencoder(ModelConfig(channels=8, latent_channels=4))
    save_weights(old, tmp_path / "old.safetensors")
    new = CompactAutoencoder(ModelConfig(channels=8, latent_channels=8, levels=(4, 8)))
    warm_start(new, tmp_path / "old.safetensors")
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(old.eval()(x), new.eval()(x, 4), atol=1e-6)
        assert torch.allclose(old(x), new(x, 8), atol=1e-6)  # new channels enter the decoder at weight 0


def _constant_code_output(smooth: bool) -> torch.Tensor:
    """The decoder's output for a code that is +1 everywhere, with sub-pixel filters that disagree (as
    training leaves them): inside the picture it repeats every 16 px, and its sub-patterns are the grid."""
    from conftest import tiny_model_with_loose_subpixels

    model = tiny_model_with_loose_subpixels(seed=5, scale=0.3, bias_scale=0.3, smooth=smooth)
    with torch.no_grad():
        out = model.decoder(torch.ones(1, 16, 16, 16))
    return out[0, :, 96:160, 96:160].double()  # 6 cells in from every border: past the receptive field


def _pattern_beyond_period_2(tile: torch.Tensor) -> float:
    """How far the tile is from repeating every 2 px, relative to its own variation."""
    step = torch.maximum((tile[:, 2:] - tile[:, :-2]).abs().amax(), (tile[:, :, 2:] - tile[:, :, :-2]).abs().amax())
    return float(step / (tile.amax() - tile.amin()))


def test_smooth_upsampling_leaves_no_pattern_coarser_than_2_px():
    """On a constant code the binomial after each inner shuffle averages the sub-pixel pattern away exactly,
    so only the last (full-resolution) stage's period-2 pattern is left: no 4, 8 or 16 px grid."""
    smooth, plain = _constant_code_output(True), _constant_code_output(False)
    assert _pattern_beyond_period_2(smooth) < 1e-5
    assert _pattern_beyond_period_2(plain) > 0.05  # the control: without the filter, periods 4-16 show


def test_smooth_upsampling_loads_plain_weights_and_round_trips_its_config():
    plain = CompactAutoencoder(ModelConfig(channels=8, latent_channels=16))
    config = ModelConfig(channels=8, latent_channels=16, smooth_upsampling=True)
    smooth = CompactAutoencoder(config)
    smooth.load_state_dict(plain.state_dict())  # the filter is not a stored tensor: same keys, same shapes
    assert ModelConfig.from_dict(config.to_dict()) == config
    assert "smooth_upsampling" not in ModelConfig(channels=8, latent_channels=16).to_dict()  # ids stay
    with pytest.raises(ConfigError, match="smooth_upsampling must be true or false"):
        ModelConfig.from_dict({**config.to_dict(), "smooth_upsampling": "false"})  # bool("false") is True
