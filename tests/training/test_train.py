import json

import numpy as np
import pytest
from PIL import Image

torch = pytest.importorskip("torch")

from compact.config import ModelConfig  # noqa: E402
from compact.errors import DataError  # noqa: E402
from compact.files import find_images  # noqa: E402
from compact.training.checkpoint import load_model, model_id  # noqa: E402
from compact.training.data import is_holdout  # noqa: E402
from compact.training.model import CompactAutoencoder  # noqa: E402
from compact.training.train import TrainConfig, train  # noqa: E402


@pytest.fixture
def photo_dir(tmp_path):
    from conftest import natural_image

    root = tmp_path / "photos"
    (root / "sub").mkdir(parents=True)
    for i in range(6):
        Image.fromarray(natural_image(80, 96, seed=i)).save(root / ("sub" if i % 2 else "") / f"p{i}.png")
    Image.fromarray(natural_image(80, 96, seed=9)).convert("L").save(root / "gray.jpg")
    (root / "broken.png").write_bytes(b"garbage")
    Image.fromarray(natural_image(20, 20)).save(root / "tiny.png")
    return root


EXPECTED_HOLDOUT = [True, False, False, False, False, False]


def _cfg(data, out, **kw):
    base = dict(steps=4, batch_size=2, crop=32, val_crop=48, val_every=2, checkpoint_every=2,
                model=ModelConfig(channels=8), val_fraction=0.3, threads=1)  # fmt: skip
    base.update(kw)
    return TrainConfig(data=data, out=out, **base)


def test_train_skips_bad_files_checkpoints_and_resumes(photo_dir, tmp_path):
    out = tmp_path / "run"
    with pytest.warns(UserWarning) as record:
        result = train(_cfg(photo_dir, out))
    messages = " ".join(str(w.message) for w in record)
    assert "broken.png" in messages and "tiny.png" in messages
    assert np.isfinite(result["loss"]) and np.isfinite(result["best_val_psnr"])
    for name in ("weights.safetensors", "best.safetensors", "optimizer.safetensors", "state.json"):
        assert (out / name).is_file()
    assert json.loads((out / "state.json").read_text())["step"] == 4
    first = model_id(load_model(out))

    steps_seen = []
    with pytest.warns(UserWarning):
        train(_cfg(photo_dir, out, steps=6, resume=True), lambda s, m: steps_seen.append(s))
    assert steps_seen == [5, 6]
    assert json.loads((out / "state.json").read_text())["step"] == 6
    assert model_id(load_model(out)) != first


def test_training_is_seeded(photo_dir, tmp_path):
    ids = []
    for run in ("a", "b"):
        with pytest.warns(UserWarning):
            train(_cfg(photo_dir, tmp_path / run, steps=2))
        ids.append(model_id(load_model(tmp_path / run)))
    assert ids[0] == ids[1]


def test_holdout_split_is_fixed_by_relative_path(tmp_path):
    # a regression guard: the split must not change between versions, machines or folder locations
    names = ["a.png", "b.png", "sub/c.png", "sub/deeper/d.jpg", "e.png", "f.png"]
    assert [is_holdout(tmp_path / n, tmp_path, 0.3) for n in names] == EXPECTED_HOLDOUT
    assert len(find_images(tmp_path)) == 0


def test_no_usable_images_is_a_data_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError):
        train(_cfg(tmp_path / "empty", tmp_path / "out"))
    with pytest.raises(DataError):
        train(_cfg(tmp_path / "nope", tmp_path / "out"))


def test_an_existing_run_is_never_restarted_by_accident(photo_dir, tmp_path):
    out = tmp_path / "run"
    with pytest.warns(UserWarning):
        train(_cfg(photo_dir, out, steps=2, resume=True))  # nothing to resume: --resume starts the run
    best = (out / "best.safetensors").read_bytes()
    with pytest.raises(DataError, match="--resume"):
        train(_cfg(photo_dir, out, steps=2))
    assert (out / "best.safetensors").read_bytes() == best
    with pytest.warns(UserWarning):
        train(_cfg(photo_dir, out, steps=2, force=True))


def test_resuming_continues_exactly_and_leaves_torch_global_rng_alone(photo_dir, tmp_path):
    before = torch.get_rng_state()
    with pytest.warns(UserWarning):
        train(_cfg(photo_dir, tmp_path / "straight", steps=4))
    assert torch.equal(torch.get_rng_state(), before)
    with pytest.warns(UserWarning):
        train(_cfg(photo_dir, tmp_path / "split", steps=2))
    with pytest.warns(UserWarning):
        train(_cfg(photo_dir, tmp_path / "split", steps=4, resume=True))
    for name in ("weights.safetensors", "average.safetensors"):
        assert model_id(load_model(tmp_path / "straight" / name)) == model_id(load_model(tmp_path / "split" / name))


@pytest.mark.parametrize("precision", ["bf16", "fp32"])
def test_precisions_train(photo_dir, tmp_path, precision):
    with pytest.warns(UserWarning):
        result = train(_cfg(photo_dir, tmp_path / precision, steps=3, precision=precision, channels_last=False))
    assert np.isfinite(result["loss"])
    with pytest.raises(ValueError, match="precision"):
        _cfg(photo_dir, tmp_path / "x", precision="fp8")


def test_auto_precision_is_resolved_and_recorded(photo_dir, tmp_path, monkeypatch):
    import compact.training.precision

    monkeypatch.setattr(compact.training.precision, "native_bf16", lambda device, flags=None: False)
    with pytest.warns(UserWarning) as record:
        train(_cfg(photo_dir, tmp_path / "auto", steps=2, precision="auto"))
    state = json.loads((tmp_path / "auto" / "state.json").read_text())
    assert state["config"]["precision"] == "auto" and state["precision_used"] == "fp32"
    assert json.loads((tmp_path / "auto" / "log.jsonl").read_text().splitlines()[0])["precision"] == "fp32"
    assert not [w for w in record if "emulated" in str(w.message)]
    with pytest.warns(UserWarning, match="emulated"):  # bf16 asked for where it is emulated: kept, and said
        train(_cfg(photo_dir, tmp_path / "bf16", steps=1, precision="bf16"))
    assert json.loads((tmp_path / "bf16" / "state.json").read_text())["precision_used"] == "bf16"


def test_widening_a_trained_model_preserves_what_it_computes(tmp_path):
    from compact.training.checkpoint import save_weights
    from compact.training.model import CompactAutoencoder
    from compact.training.train import warm_start

    torch.manual_seed(3)
    narrow = CompactAutoencoder(ModelConfig(channels=8, latent_channels=4)).eval()
    for p in narrow.parameters():  # move off the init, as trained weights are
        p.data += 0.05 * torch.randn_like(p)
    save_weights(narrow, tmp_path / "narrow.safetensors")
    config = ModelConfig(channels=8, latent_channels=8, levels=(4, 8), encoder_widths=(8, 12, 16, 24, 24),
                         decoder_widths=(24, 24, 16, 12, 8))  # fmt: skip
    wide = CompactAutoencoder(config).eval()
    warm_start(wide, tmp_path / "narrow.safetensors")
    x = torch.rand(2, 3, 64, 48)
    with torch.no_grad():
        assert torch.allclose(narrow(x), wide(x, channels=4), atol=1e-5)
        assert torch.allclose(narrow.encoder(x), wide.encoder(x)[:, :4], atol=1e-5)
    fresh = CompactAutoencoder(wide.config).eval()
    with torch.no_grad():
        assert not torch.allclose(narrow(x), fresh(x, channels=4), atol=1e-2)  # the control: no copy, no match


def test_learning_rate_drops_at_the_given_milestones_or_at_70_and_90_percent(tmp_path):
    from compact.errors import ConfigError

    default = _cfg(tmp_path, tmp_path, steps=1000, lr=1.0)
    assert [default.lr_at(s) for s in (699, 700, 899, 900)] == pytest.approx([1.0, 0.3, 0.3, 0.09])
    early = _cfg(tmp_path, tmp_path, steps=1000, lr=1.0, decay_at=(100, 250))
    assert [early.lr_at(s) for s in (99, 100, 249, 250, 999)] == pytest.approx([1.0, 0.3, 0.3, 0.09, 0.09])
    for bad in ((250, 100), (0,), (100, 100)):
        with pytest.raises(ConfigError, match="decay_at"):
            _cfg(tmp_path, tmp_path, decay_at=bad)


def test_the_grid_penalty_trains_and_validation_logs_the_grid_score(photo_dir, tmp_path):
    train(_cfg(photo_dir, tmp_path / "grid", steps=2, grid_weight=300.0))
    last = json.loads((tmp_path / "grid" / "log.jsonl").read_text().splitlines()[-1])
    assert last["val_grid_c16"] > 0 and np.isfinite(last["loss"])
    with pytest.raises(ValueError, match="grid_weight"):
        _cfg(photo_dir, tmp_path / "x", grid_weight=-1.0)
    with pytest.raises(ValueError, match="multiples of 32"):
        _cfg(photo_dir, tmp_path / "x", grid_weight=1.0, crop=48)


def test_the_grid_penalty_reaches_the_weights_with_the_rate_term_on(photo_dir, tmp_path):
    """One step with the rate term on: a heavy grid penalty must change what the step does (a step that
    dropped the penalty from the sum trained the same weights with or without it)."""
    def weights(grid_weight, name):
        out = tmp_path / name
        train(_cfg(photo_dir, out, steps=1, val_every=100, flat_fraction=1.0, rate_weight=0.02,
                   grid_weight=grid_weight))  # fmt: skip
        return load_model(out).state_dict()

    without, with_penalty, again = weights(0.0, "without"), weights(1e5, "with"), weights(0.0, "again")
    assert all(torch.equal(without[k], again[k]) for k in without)  # control: the step is deterministic
    assert any(not torch.equal(without[k], with_penalty[k]) for k in without)


def test_a_frozen_encoder_keeps_the_code_and_the_decoder_learns(photo_dir, tmp_path):
    def run(name, freeze):
        train(_cfg(photo_dir, tmp_path / name, steps=3, sign_fraction=1.0, freeze_encoder=freeze))
        return load_model(tmp_path / name).state_dict()

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)  # the run's initial weights (seed 0)
        start = CompactAutoencoder(ModelConfig(channels=8)).state_dict()
    with pytest.warns(UserWarning):
        frozen, free = run("frozen", True), run("free", False)
    averaged = load_model(tmp_path / "frozen" / "average.safetensors").state_dict()  # what validation and export use
    encoder = [k for k in start if k.startswith("encoder.")]
    decoder = [k for k in start if k.startswith("decoder.")]
    assert encoder and all(torch.equal(frozen[k], start[k]) and torch.equal(averaged[k], start[k]) for k in encoder)
    assert any(not torch.equal(frozen[k], start[k]) for k in decoder)
    assert any(not torch.equal(averaged[k], start[k]) for k in decoder)
    assert any(not torch.equal(free[k], start[k]) for k in encoder)  # control: an unfrozen run moves it
    for name, freeze in (("frozen", False), ("free", True)):  # its optimizer holds other tensors: refused
        with pytest.raises(ValueError, match="freeze_encoder"):
            train(_cfg(photo_dir, tmp_path / name, steps=5, resume=True, freeze_encoder=freeze))
