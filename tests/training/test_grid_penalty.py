import numpy as np
import pytest

torch = pytest.importorskip("torch")

from conftest import random_image  # noqa: E402

from compact.evaluation.grid import smooth_picture  # noqa: E402
from compact.geometry import to_tensor  # noqa: E402
from compact.training.grid import periodic_error  # noqa: E402


def _tensor(rgb: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(to_tensor(rgb))


def _with_lines(x: torch.Tensor, period: int, levels: float = 1.0) -> torch.Tensor:
    lines = x.clone()
    lines[..., ::period, :] += levels / 255
    lines[..., :, ::period] += levels / 255
    return lines


@pytest.mark.parametrize("period", [4, 8])
def test_a_faint_grid_is_charged_and_noise_or_blur_much_less(period):
    x = _tensor(smooth_picture(128))
    grid = periodic_error(_with_lines(x, period), x).item()  # a one-level grid: 1e-6 of MSE
    assert periodic_error(x, x).item() == 0
    assert grid > 1e-6  # the negative control: the penalty sees a grid the MSE cannot
    noisy = x + torch.randn(x.shape, generator=torch.Generator().manual_seed(0)) / 255
    blurred = torch.nn.functional.avg_pool2d(x, 3, 1, 1, count_include_pad=False)
    for other in (noisy, blurred):
        assert periodic_error(other, x).item() < 0.1 * grid


def test_only_smooth_windows_count():
    textured = _tensor(random_image(128, 128, seed=3))
    assert periodic_error(_with_lines(textured, 4, 4.0), textured).item() == 0


def test_the_penalty_has_a_gradient_towards_removing_the_grid():
    x = _tensor(smooth_picture(128, seed=1))
    y = (x + 0.02 * torch.cos(torch.arange(128) * torch.pi / 2)).requires_grad_()  # period 4 along x
    periodic_error(y, x).sum().backward()
    stepped = y - 0.01 * y.grad / y.grad.abs().max()
    assert periodic_error(stepped, x).item() < periodic_error(y.detach(), x).item()
