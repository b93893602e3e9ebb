import numpy as np
import pytest

torch = pytest.importorskip("torch")

from compact.evaluation.grid import smooth_picture  # noqa: E402
from compact.training.grid import grid_excess  # noqa: E402


def _batch(seed: int = 0) -> torch.Tensor:
    return torch.from_numpy(smooth_picture(128, seed=seed).transpose(2, 0, 1)[None].astype(np.float32) / 255)


@pytest.mark.parametrize("period", [4, 8, 16])
def test_a_faint_grid_is_charged_and_blur_or_noise_is_not(period):
    x = _batch()
    lines = x.clone()
    lines[..., ::period, :] += 1 / 255  # a one-level grid: invisible to the MSE (1e-6), charged here
    lines[..., :, ::period] += 1 / 255
    assert grid_excess(x, x).item() == 0
    assert grid_excess(lines, x).item() > 3e-7  # the negative control
    blurred = torch.nn.functional.avg_pool2d(x, 3, 1, 1, count_include_pad=False)
    noisy = x + torch.randn(x.shape, generator=torch.Generator().manual_seed(0)) / 255
    for other in (blurred, noisy):
        assert grid_excess(other, x).item() < 0.05 * grid_excess(lines, x).item()


def test_the_penalty_has_a_gradient_towards_removing_the_grid():
    x = _batch(1)
    y = (x + 0.02 * torch.cos(torch.arange(128) * torch.pi / 2)).requires_grad_()  # period 4 along x
    grid_excess(y, x).sum().backward()
    stepped = y - 0.5 * y.grad / y.grad.abs().max() * 0.02
    assert grid_excess(stepped, x).item() < grid_excess(y.detach(), x).item()
