"""The training loop a user writes by hand, which :mod:`sigmse.bench.run` measures the trainer against.

A torchvision dataset builds one PIL image per item and transforms it; a ``DataLoader`` batches the items; model,
loss and Adam are the trainer's (Adam in torch's default implementation, as a hand-written loop calls it). The
baseline gets every usual courtesy: persistent workers, and pinned memory with non-blocking copies on a GPU.
"""

from __future__ import annotations

import gzip
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
from torch import Tensor

from sigmse.data.datasets import Dataset
from sigmse.data.table import IDX_FILES
from sigmse.losses.modules import get_loss
from sigmse.models import get_model

__all__ = ["ArrayImageDataset", "NaiveLoop", "naive_dataset"]


class ArrayImageDataset(torch.utils.data.Dataset):
    """What torchvision's ``MNIST`` and ``CIFAR10`` do per item (a PIL image, then ``transform``), over decoded
    ``uint8`` arrays: it stands in for them where their files are not in the data root."""

    def __init__(self, images: Tensor, labels: Tensor, transform: Callable[[Any], Tensor]) -> None:
        array = images.permute(0, 2, 3, 1).contiguous().numpy()  # (N, H, W, C), as torchvision keeps it
        self.images = array[..., 0] if array.shape[-1] == 1 else array  # PIL mode "L" or "RGB"
        self.labels = labels.tolist()
        self.transform = transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        from PIL import Image

        return self.transform(Image.fromarray(self.images[index])), self.labels[index]


@contextmanager
def naive_dataset(data: Dataset, augment: bool) -> Iterator[tuple[torch.utils.data.Dataset, str]]:
    """The dataset a user builds by hand, and its name: torchvision's own class over the official files where it
    reads them (IDX, decompressed into a temporary root if gzipped; CIFAR python batches), else
    :class:`ArrayImageDataset`; its transform ``ToTensor`` + ``Normalize``, with ``augment`` the usual crop and flip
    first (what the trainer's augment_batch does, written the torchvision way)."""
    import torchvision.datasets
    from torchvision import transforms

    spec = data.spec
    steps = [transforms.RandomCrop(spec.image_shape[1], padding=4, padding_mode="reflect"),
             transforms.RandomHorizontalFlip()] if augment else []
    transform = transforms.Compose([*steps, transforms.ToTensor(), transforms.Normalize(spec.mean, spec.std)])
    if data.format in ("idx", "idx.gz"):
        cls = getattr(torchvision.datasets, spec.torchvision_class)
        with tempfile.TemporaryDirectory(prefix="sigmse-bench-") as root:
            raw = Path(root) / spec.torchvision_class / "raw"
            raw.mkdir(parents=True)
            for name in IDX_FILES:  # torchvision's MNIST checks that all four exist, uncompressed
                if data.format == "idx":
                    (raw / name).symlink_to((data.source / name).resolve())
                else:
                    with gzip.open(data.source / f"{name}.gz") as packed, open(raw / name, "wb") as out:
                        shutil.copyfileobj(packed, out)
            yield cls(root, train=True, transform=transform), f"torchvision.datasets.{cls.__name__}"
    elif data.format == "cifar-python":
        cifar = torchvision.datasets.CIFAR10(str(data.source.parent), train=True, transform=transform)
        yield cifar, "torchvision.datasets.CIFAR10"
    else:
        yield ArrayImageDataset(data.train_images, data.train_labels, transform), "ArrayImageDataset"


class NaiveLoop:
    """The loop a user writes by hand: a ``DataLoader`` (``workers``: its ``num_workers``, persistent) over a
    torchvision-style dataset, the model, Adam, the loss."""

    def __init__(self, dataset: torch.utils.data.Dataset, data: Dataset, model_name: str, *, loss: str,
                 device: torch.device, batch_size: int, workers: int, lr: float, seed: int) -> None:
        from torch.utils.data import DataLoader

        torch.manual_seed(seed)
        self.device, self.cuda = device, device.type == "cuda"
        self.model = get_model(model_name, data.spec.image_shape, data.spec.num_classes).to(device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=lr)
        self.loss_fn = get_loss(loss)
        self.loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=workers,
                                 pin_memory=self.cuda, persistent_workers=workers > 0)

    def one_pass(self) -> None:
        """One pass over the loader: an epoch of the dataset it was given (the caller times it)."""
        self.model.train()
        for images, labels in self.loader:
            images, labels = (t.to(self.device, non_blocking=self.cuda) for t in (images, labels))
            loss = self.loss_fn(self.model(images), labels)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
