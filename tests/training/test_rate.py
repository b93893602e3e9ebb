import json
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

torch = pytest.importorskip("torch")

from compact import entropy  # noqa: E402
from compact.config import ModelConfig  # noqa: E402
from compact.entropy import ContextModel  # noqa: E402
from compact.errors import ConfigError, ModelError  # noqa: E402
from compact.training import rate  # noqa: E402
from compact.training.checkpoint import load_model, model_id  # noqa: E402
from compact.training.train import TrainConfig, train  # noqa: E402


def _bits(seed: int, shape=(2, 7, 6, 9), p=0.3) -> torch.Tensor:
    """±1 bits with some structure: each plane copies its predecessor on part of the cells."""
    g = torch.Generator().manual_seed(seed)
    bits = (torch.rand(shape, generator=g) < p).float()
    for c in range(1, shape[1]):
        copy = torch.rand(shape[0], *shape[2:], generator=g) < 0.6
        bits[:, c] = torch.where(copy, bits[:, c - 1], bits[:, c])
    return bits * 2 - 1


def test_torch_contexts_equal_the_coders_cell_by_cell():
    bits = _bits(0)
    index = rate.context_index((bits > 0).float())
    c, h, w = bits.shape[1:]
    anchor = entropy._anchor_mask(h, w)
    for sample in range(bits.shape[0]):
        code = (bits[sample] > 0).numpy().astype(np.uint8)
        for ch in range(c):
            for p, mask in enumerate((anchor, ~anchor)):
                expected = (ch * 2 + p) * rate.CONTEXTS + entropy.contexts(code, ch, anchors=(p == 0))
                np.testing.assert_array_equal(index[sample, ch].numpy()[mask], expected[mask])
    shifted = rate.context_index((torch.roll(bits, 1, dims=3) > 0).float())
    assert (shifted != index).float().mean() > 0.3  # the control: other bits, other contexts


def _fitted(bits: torch.Tensor) -> tuple[rate.ContextRate, ContextModel]:
    """A learnable table fitted to ``bits`` and moved onto the coder's integer grid, and that integer table."""
    table = rate.ContextRate(bits.shape[1])
    table.fit(bits)
    coder = ContextModel.from_logits(table.logits.detach().numpy())
    with torch.no_grad():
        table.logits.copy_(torch.logit(torch.from_numpy(coder.table / entropy.PROB_ONE)))
    return table, coder


def test_expected_length_is_what_the_range_coder_spends():
    bits = _bits(1, shape=(1, 8, 24, 24))
    table, coder = _fitted(bits)
    predicted = table.bits_of(bits).sum().item()
    code = (bits[0] > 0).numpy().astype(np.uint8)
    spent = 8 * len(entropy.encode(code, coder))
    assert predicted <= spent <= predicted + 64  # the coder's overhead is at most its last two 32-bit words
    flipped = table.bits_of(-bits).sum().item()
    assert flipped > 1.5 * predicted  # the control: bits the table was not fitted to cost more
    # sure bits (latent ±1) give the same length as the fixed bits; the gradient reaches the latent
    latent = bits.clone().requires_grad_(True)
    cells = table.bits_per_cell(latent, bits)
    assert torch.allclose(cells, table.bits_of(bits), atol=1e-5)
    cells.sum().backward()
    assert latent.grad.abs().sum() > 0 and table.logits.grad.abs().sum() > 0


def test_learnt_logits_round_into_the_coders_integer_table():
    logits = np.tile([-40.0, -3.0, 0.0, 2.5, 40.0], 32).reshape(1, 2, 80)
    model = ContextModel.from_logits(logits)
    assert model.table.dtype == np.uint32 and model.table.min() == 1 and model.table.max() == entropy.PROB_ONE - 1
    assert model.table[0, 0, 2] == entropy.PROB_ONE // 2
    assert ContextModel.from_json(model.to_json()).context_id == model.context_id
    with pytest.raises(ModelError, match="shape"):
        ContextModel.from_logits(np.zeros((4, 2, 7)))


def test_level_weights_follow_the_planes_sent():
    counts = torch.tensor([8, 16, 32, 64])
    assert torch.allclose(rate.level_weights(counts, 0.02, 1.0, 8), torch.tensor([0.02, 0.01, 0.005, 0.0025]))
    assert torch.allclose(rate.level_weights(counts, 0.02, 0.0, 8), torch.full((4,), 0.02))
    cells = torch.ones(2, 4, 3, 5)
    assert rate.rate_bpp(cells, torch.tensor([1, 4]), pixels=15).tolist() == [1.0, 4.0]


@pytest.fixture
def photo_dir(tmp_path):
    from conftest import natural_image

    root = tmp_path / "photos"
    root.mkdir()
    for i in range(6):
        Image.fromarray(natural_image(80, 96, seed=i)).save(root / f"p{i}.png")
    return root


def _cfg(data, out, **kw):
    base = dict(steps=4, batch_size=2, crop=32, val_crop=48, val_every=2, checkpoint_every=2, threads=1,
                model=ModelConfig(channels=8, latent_channels=8, levels=(4, 8)), val_fraction=0.3,
                rate_weight=0.05, rate_exponent=1.0)  # fmt: skip
    base.update(kw)
    return TrainConfig(data=data, out=out, **base)


def test_rate_term_trains_logs_and_resumes_exactly(photo_dir, tmp_path):
    train(_cfg(photo_dir, tmp_path / "straight"))
    train(_cfg(photo_dir, tmp_path / "split", until=2))
    assert json.loads((tmp_path / "split" / "state.json").read_text())["step"] == 2
    train(_cfg(photo_dir, tmp_path / "split", resume=True))
    for name in ("weights.safetensors", "average.safetensors"):
        assert model_id(load_model(tmp_path / "straight" / name)) == model_id(load_model(tmp_path / "split" / name))
    tables = [rate.load_file(str(tmp_path / run / rate.RATE_FILE)) for run in ("straight", "split")]
    assert tables[0].keys() == tables[1].keys() and {"logits", "adam.exp_avg"} <= tables[0].keys()
    assert all(torch.equal(tables[0][k], tables[1][k]) for k in tables[0])
    last = json.loads((tmp_path / "straight" / "log.jsonl").read_text().splitlines()[-2])
    assert 0 < last["val_bpp_c4"] < last["val_bpp_c8"] <= 8 / 256 * 1.01


def test_a_heavy_rate_term_makes_the_encoder_send_fewer_bits(photo_dir, tmp_path):
    def bpp(**kw) -> float:
        cfg = _cfg(photo_dir, tmp_path / str(kw), steps=60, val_every=60, batch_size=4, lr=3e-3, **kw)
        train(cfg)
        return json.loads((cfg.out / "log.jsonl").read_text().splitlines()[-2])["val_bpp_c8"]

    with_rate, without = bpp(rate_weight=2.0), bpp(rate_weight=1e-9)  # the control: the same run, no pressure
    assert with_rate < 0.8 * without


def test_export_writes_the_learnt_table_or_refuses_a_wrong_one(tiny_checkpoint, tmp_path):
    pytest.importorskip("onnx")
    from safetensors.torch import save_file

    from compact.codec import Codec
    from compact.export.bundle import export_model

    good, bad = tmp_path / "good.safetensors", tmp_path / "bad.safetensors"
    save_file({"logits": torch.randn(16, 2, rate.CONTEXTS)}, str(good))
    save_file({"logits": torch.randn(8, 2, rate.CONTEXTS)}, str(bad))
    with pytest.raises(ModelError, match="8 code planes"):
        export_model(tiny_checkpoint, tmp_path / "refused", "onnx", check=False, learnt_context=bad)
    assert not (tmp_path / "refused").exists()
    manifest = export_model(tiny_checkpoint, tmp_path / "model", "onnx", check=False, learnt_context=good)
    assert manifest.files["context"] == entropy.CONTEXT_FILE
    codec = Codec(str(tmp_path / "model"), "onnx")
    from conftest import natural_image

    rgb = natural_image(48, 64)
    restored = codec.decompress_array(codec.compress(rgb))
    assert restored.shape == rgb.shape


def _layout_2_table(channels: int, seed: int) -> ContextModel:
    """A coder's layout 2 table for ``channels`` planes, its parents chosen on structured bits."""
    rng = np.random.default_rng(seed)
    codes = []
    for _ in range(4):  # plane c repeats plane c // 2 on 80% of its cells: parents far below c - 1
        code = (rng.random((channels, 10, 12)) < 0.4).astype(np.uint8)
        for c in range(2, channels):
            code[c] = np.where(rng.random((10, 12)) < 0.8, code[c // 2], code[c])
        codes.append(code)
    return ContextModel.fit(codes, entropy.choose_parents(codes))


def test_layout_2_contexts_equal_the_coders_cell_by_cell():
    coder = _layout_2_table(7, seed=3)
    assert any(row and row[0] != c - 1 for c, rows in enumerate(coder.parents) for row in rows)  # not just c-1
    table = rate.ContextRate.from_table(coder)
    bits = _bits(4)
    index = rate.context_index((bits > 0).float(), table.parent_index)
    anchor = entropy._anchor_mask(*bits.shape[2:])
    for sample in range(bits.shape[0]):
        code = (bits[sample] > 0).numpy().astype(np.uint8)
        for ch in range(bits.shape[1]):
            for p, mask in enumerate((anchor, ~anchor)):
                expected = (ch * 2 + p) * rate.CONTEXTS_2 + coder.contexts(code, ch, anchors=(p == 0))
                np.testing.assert_array_equal(index[sample, ch].numpy()[mask], expected[mask])
    # the control: layout 1's contexts are other ones
    assert (rate.context_index((bits > 0).float()) % rate.CONTEXTS != index % rate.CONTEXTS_2).any()
    assert np.array_equal(table.to_table().table, coder.table) and table.to_table().parents == coder.parents


def test_a_run_learns_on_from_a_layout_2_table_and_exports_it(photo_dir, tmp_path):
    pytest.importorskip("onnx")
    from compact.export.bundle import export_model

    start = _layout_2_table(8, seed=5)
    (tmp_path / "context.json").write_text(start.to_json())
    cfg = _cfg(photo_dir, tmp_path / "run", context_table=tmp_path / "context.json")
    train(replace(cfg, until=2))
    assert rate.saved_parents(cfg.out / rate.RATE_FILE) == start.parents
    train(replace(cfg, resume=True))
    learnt = ContextModel.from_logits(rate.load_file(str(cfg.out / rate.RATE_FILE))["logits"].numpy(), start.parents)
    assert not np.array_equal(learnt.table, start.table)  # it learnt
    manifest = export_model(cfg.out / "weights.safetensors", tmp_path / "model", "onnx", check=False,
                            learnt_context=cfg.out / rate.RATE_FILE)  # fmt: skip
    exported = ContextModel.from_json((tmp_path / "model" / manifest.files["context"]).read_text())
    assert exported.layout == 2 and exported.context_id == learnt.context_id
    # a run learnt in one layout does not resume in another, and a layout 1 run refuses a layout 2 table
    other = _written(tmp_path, _layout_2_table(8, seed=6))
    assert ContextModel.from_json(other.read_text()).parents != start.parents
    with pytest.raises(ConfigError, match="another layout"):
        train(replace(cfg, resume=True, steps=6, context_table=other))
    train(_cfg(photo_dir, tmp_path / "plain", until=2))
    with pytest.raises(ConfigError, match="another layout"):
        train(_cfg(photo_dir, tmp_path / "plain", resume=True, context_table=tmp_path / "context.json"))


def _written(tmp_path, table: ContextModel):
    path = tmp_path / f"{table.context_id}.json"
    path.write_text(table.to_json())
    return path
