import pytest

torch = pytest.importorskip("torch")

from compact.config import ModelConfig  # noqa: E402
from compact.export.fold import fold_for_export  # noqa: E402
from compact.export.frozen_gdn import FrozenGDN  # noqa: E402
from compact.training.gdn import GDN  # noqa: E402
from compact.training.model import CompactAutoencoder, sign_binarize  # noqa: E402


def test_folds_keep_the_outputs_and_leave_the_model_alone():
    torch.manual_seed(0)
    model = CompactAutoencoder(ModelConfig(channels=8, latent_channels=16)).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    folded = fold_for_export(model)
    x = torch.rand(2, 3, 64, 48) * 4  # larger than images: exercises GDN's scaling path
    with torch.no_grad():
        assert torch.allclose(model.encoder(x), folded.encoder(x), atol=1e-5)  # x / 16 inside: other rounding
        bits = sign_binarize(model.encoder(x))
        assert torch.allclose(model.decoder(bits), folded.decoder(bits), atol=1e-5)
    assert not any(isinstance(m, GDN) for m in folded.modules())
    assert sum(isinstance(m, FrozenGDN) and m.prescaled for m in folded.encoder.modules()) == 5
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert model.decoder.offset == 0.5 and folded.decoder.offset == 0.0


def test_exported_graphs_carry_fewer_element_wise_ops(tiny_onnx_bundle):
    onnx = pytest.importorskip("onnx")
    encoder = [n.op_type for n in onnx.load(str(tiny_onnx_bundle.file("onnx_encoder"))).graph.node]
    decoder = [n.op_type for n in onnx.load(str(tiny_onnx_bundle.file("onnx_decoder"))).graph.node]
    assert "Reciprocal" not in encoder and encoder.count("Div") == 5
    assert decoder[-1] == "DepthToSpace"  # the +0.5 lives in the last convolution's bias
