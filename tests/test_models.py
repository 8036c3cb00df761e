"""Models: every registered model maps images to C logits; unknown names list the valid ones."""

import pytest
import torch

from sigmse.models import get_model, model_names


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
    with pytest.raises(ValueError, match="unknown model 'vit'; choose one of: cnn, mlp, resnet9, resnet9_small"):
        get_model("vit", (1, 28, 28), 10)
