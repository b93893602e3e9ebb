import pytest

torch = pytest.importorskip("torch")

from compact.config import ModelConfig  # noqa: E402
from compact.training import grid, rate  # noqa: E402
from compact.training.loss import training_loss  # noqa: E402
from compact.training.model import CompactAutoencoder  # noqa: E402


def _pass():
    torch.manual_seed(0)
    model = CompactAutoencoder(ModelConfig(channels=8, latent_channels=16, levels=(8, 16))).train()
    x = torch.rand(2, 3, 64, 64) * 0.02 + 0.5  # smooth, so the grid penalty sees every window
    return model, x, model.passes(x, generator=torch.Generator().manual_seed(1))


def test_every_term_is_in_the_total():
    model, x, result = _pass()
    table = rate.ContextRate(16)
    terms = training_loss(result, x, grid_weight=1000.0, table=table, rate_weight=0.02, rate_exponent=1.0,
                          first_level=8)  # fmt: skip
    mse = torch.mean((result.image - x) ** 2)
    penalty = 1000.0 * grid.periodic_error(result.image, x).mean()
    cells = table.bits_per_cell(result.latent, result.bits)
    per_sample = rate.rate_bpp(cells, result.counts, 64 * 64)
    rate_term = torch.mean(rate.level_weights(result.counts, 0.02, 1.0, 8) * per_sample)
    assert penalty > 0 and rate_term > 0
    assert terms.grid.item() == pytest.approx(penalty.item())
    assert terms.rate.item() == pytest.approx(rate_term.item())
    assert terms.total.item() == pytest.approx((mse + penalty + rate_term).item())
    assert terms.bpp == pytest.approx(per_sample.mean().item())


def test_terms_that_are_off_are_zero():
    _, x, result = _pass()
    terms = training_loss(result, x)
    assert terms.grid.item() == 0 and terms.rate.item() == 0 and terms.bpp is None
    assert terms.total.item() == pytest.approx(terms.mse.item())
