"""The hand-written baseline: torchvision's own dataset class reads the same files and normalises like the
trainer; the array stand-in does per item what torchvision's CIFAR10 does; a pass trains the model."""

from __future__ import annotations

import torch

from sigmse.bench.measures import synthetic_dataset
from sigmse.data.datasets import DATASETS, load_dataset
from sigmse.bench.naive_loop import ArrayImageDataset, NaiveLoop, naive_dataset


def test_naive_mnist_is_torchvision_reading_the_same_files_with_the_same_normalisation(tmp_path, make_fake_idx):
    make_fake_idx(tmp_path, "mnist", layout="plain", compression=".gz", n_train=30)
    data = load_dataset("mnist", tmp_path, verify=False, cache_dir=tmp_path / "cache")
    spec = DATASETS["mnist"]
    with naive_dataset(data, augment=False) as (naive, name):
        assert name == "torchvision.datasets.MNIST" and len(naive) == 30
        image, label = naive[7]
    expected = (data.train_images[7].float() / 255 - spec.mean[0]) / spec.std[0]
    torch.testing.assert_close(image, expected, rtol=0, atol=1e-5)
    assert label == int(data.train_labels[7])


def test_array_dataset_builds_a_pil_image_per_item_like_torchvision_cifar():
    data = synthetic_dataset("cifar10", 12)
    with naive_dataset(data, augment=False) as (naive, name):
        assert name == "ArrayImageDataset" and isinstance(naive, ArrayImageDataset)
        image, label = naive[3]
    mean, std = torch.tensor(DATASETS["cifar10"].mean), torch.tensor(DATASETS["cifar10"].std)
    expected = (data.train_images[3].float() / 255 - mean[:, None, None]) / std[:, None, None]
    torch.testing.assert_close(image, expected, rtol=0, atol=1e-5)
    assert label == int(data.train_labels[3])


def test_one_pass_trains_the_model_on_every_batch():
    data = synthetic_dataset("mnist", 64)
    with naive_dataset(data, augment=True) as (dataset, _):
        loop = NaiveLoop(dataset, data, "mlp", loss="softmax_ce", device=torch.device("cpu"), batch_size=16,
                         workers=0, lr=1e-3, seed=0)
        before = [p.detach().clone() for p in loop.model.parameters()]
        loop.one_pass()
    assert len(loop.loader) == 4
    assert all(not torch.equal(b, a) for b, a in zip(before, loop.model.parameters()))
