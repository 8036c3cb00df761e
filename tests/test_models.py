"""Models: every registered model maps images to C logits; unknown names list the valid ones; airbench's patch
whitening whitens (checked against patches cut out one by one) and stays frozen."""

import pytest
import torch

from sigmse.models import MODELS, Airbench, PatchWhitening, get_model, model_names


@pytest.mark.parametrize("name", model_names())
@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
def test_models_output_one_logit_per_class(name, shape):
    if name == "cnn" and shape[1] != 28:
        shape = (shape[0], 28, 28)
    if name.startswith("resnet") and shape[1] != 32:
        shape = (shape[0], 32, 32)
    model = get_model(name, shape, 10)
    assert model(torch.randn(4, *shape)).shape == (4, 10)


def test_unknown_model_lists_valid_names():
    with pytest.raises(ValueError, match="unknown model 'vit'; choose one of: airbench, airbench_quarter, cnn, mlp, "
                                         "resnet9, resnet9_small"):
        get_model("vit", (1, 28, 28), 10)


def correlated_images(n: int = 64, seed: int = 0) -> torch.Tensor:
    """CIFAR-shaped images whose neighbouring pixels and channels are strongly correlated (smooth, mixed colours),
    so that whitening has work to do: the raw patch covariance is far from the identity."""
    generator = torch.Generator().manual_seed(seed)
    base = torch.randn(n, 3, 32, 32, generator=generator)
    smooth = torch.nn.functional.avg_pool2d(base, 3, stride=1, padding=1)  # neighbouring pixels share values
    mix = torch.tensor([[1.0, 0.8, 0.6], [0.0, 0.6, 0.5], [0.0, 0.0, 0.4]])  # colours share values
    own = 0.3 * torch.randn(n, 3, 32, 32, generator=generator)  # and each pixel a little of its own
    return torch.einsum("dc,nchw->ndhw", mix, smooth) + own + 2.0


def patches_one_by_one(images: torch.Tensor, k: int = 2) -> torch.Tensor:
    """Every k x k patch of ``images`` as a row (C, k, k flattened in that order), cut out by slicing: the
    reference for the unfold-based estimate."""
    n, c, h, w = images.shape
    rows = [images[:, :, i:i + k, j:j + k].reshape(n, c * k * k) for i in range(h - k + 1) for j in range(w - k + 1)]
    return torch.cat(rows).double()


def test_patch_second_moment_matches_patches_cut_out_one_by_one():
    images = correlated_images(16)
    patches = patches_one_by_one(images)
    reference = patches.T @ patches / len(patches)
    torch.testing.assert_close(PatchWhitening(3).patch_second_moment(images, chunk=5), reference,
                               rtol=1e-10, atol=1e-10)


def test_whitening_gives_near_identity_covariance_on_its_patches():
    images = correlated_images()
    patches = patches_one_by_one(images)
    raw = patches.T @ patches / len(patches)
    assert (raw - torch.eye(12, dtype=torch.float64)).abs().max() > 1.0  # far from white before
    whitening = PatchWhitening(3)
    whitening.init_from_data(images)
    filters = whitening.conv.weight.double().reshape(24, 12)  # (out, C k k)
    torch.testing.assert_close(filters[12:], -filters[:12])  # the second half is the negated first
    outputs = patches @ filters[:12].T  # what the convolution computes (less its bias) on each patch
    covariance = outputs.T @ outputs / len(outputs)
    # eps = 5e-4 shrinks each direction by l / (l + eps): the smallest eigenvalue here is above 0.09
    torch.testing.assert_close(covariance, torch.eye(12, dtype=torch.float64), rtol=0, atol=1e-2)
    convolved = whitening(images[:2]) - whitening.conv.bias.view(1, -1, 1, 1)  # (2, 24, 31, 31)
    torch.testing.assert_close(convolved[0, :, 0, 0].double(), filters @ patches[0], rtol=1e-4, atol=1e-4)


def test_whitening_uses_the_first_max_images_only():
    images = correlated_images(8)
    few, noise = PatchWhitening(3, max_images=4), torch.randn(4, 3, 32, 32) * 100
    few.init_from_data(torch.cat([images[:4], noise]))
    reference = PatchWhitening(3)
    reference.init_from_data(images[:4])
    torch.testing.assert_close(few.conv.weight, reference.conv.weight)


@pytest.mark.parametrize(("name", "widths"), [("airbench", (64, 256, 256)), ("airbench_quarter", (16, 64, 64))])
def test_airbench_has_its_widths_a_frozen_whitening_and_a_scaled_linear_head(name, widths):
    model = get_model(name, (3, 32, 32), 10)
    assert isinstance(model, Airbench) and MODELS[name].channels_last_on_cpu
    blocks = [module for module in model.features if isinstance(module, torch.nn.Sequential)]
    assert tuple(block[0].out_channels for block in blocks) == widths
    assert model.whiten.out_channels == 24 and not model.whiten.conv.weight.requires_grad
    assert model.whiten.conv.bias.requires_grad
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(norms) == 6 and all(not m.weight.requires_grad and m.bias.requires_grad for m in norms)
    assert model.classifier.bias is None and model.logit_scale == pytest.approx(1 / 9)
    model.init_from_data(correlated_images(8))
    images = correlated_images(4, seed=1)
    model.eval()
    features = model.features(model.whiten(images))  # (N, w3)
    torch.testing.assert_close(model(images), model.classifier(features) / 9)


def test_airbench_convolutions_start_near_the_identity():
    """Dirac filters on the first min(in, out) output channels (airbench's identity initialisation)."""
    conv = get_model("airbench_quarter", (3, 32, 32), 10).features[2][4]  # block 2's second conv, 64 -> 64
    centre = conv.weight[:, :, 1, 1]
    torch.testing.assert_close(centre, torch.eye(64))
    assert conv.weight[:, :, 0].abs().sum() == 0
