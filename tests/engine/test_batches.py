"""Batches: seeded, fixed-size training batches on the device; augmentation only where it belongs."""

import pytest
import torch

from engine.config.recipe import DataSpec
from engine.datasets import prepare
from engine.training.batches import Batches

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def digits():
    return prepare(DataSpec(name="digits"), seed=0)


@pytest.fixture(scope="module")
def moons():
    return prepare(DataSpec(name="moons", params={"n_samples": 200}), seed=0)


def first(batches: Batches, n=5):
    return [batches.next() for _ in range(n)]


def assert_same(a, b):
    for (xa, ya), (xb, yb) in zip(a, b):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)


def test_same_seed_gives_identical_batches(digits):
    assert_same(first(Batches(digits, 32, CPU, seed=1)), first(Batches(digits, 32, CPU, seed=1)))
    other = first(Batches(digits, 32, CPU, seed=2))
    assert not torch.equal(other[0][1], first(Batches(digits, 32, CPU, seed=1))[0][1])


def test_batches_have_the_right_shapes_dtypes_and_rows(digits):
    b = Batches(digits, 64, CPU, seed=0)
    x, y = b.next()
    assert x.shape == (64, 1, 8, 8) and x.dtype == torch.float32
    assert y.shape == (64,) and y.dtype == torch.int64 and x.device.type == "cpu"
    # Each batch is real training rows, paired with their own labels.
    rows = {tuple(r): lab for r, lab in zip(digits.x_train.reshape(len(digits.x_train), -1).tolist(), digits.y_train)}
    for xi, yi in zip(x.reshape(64, -1).tolist(), y.tolist()):
        assert rows[tuple(xi)] == yi


def test_an_epoch_visits_each_row_at_most_once_and_drops_the_ragged_tail(moons):
    b = Batches(moons, 48, CPU, seed=0)  # 160 train rows -> 3 batches of 48, 16 dropped
    assert b.steps_per_epoch == 3 and b.epoch == 0
    seen = torch.cat([b.next()[0] for _ in range(3)])
    assert len(torch.unique(seen, dim=0)) == 144 and b.epoch == 1
    x4, _ = b.next()
    assert x4.shape[0] == 48  # endless: a new shuffle starts


def test_batch_size_larger_than_the_train_set_uses_all_of_it(moons):
    b = Batches(moons, 10_000, CPU, seed=0)
    x, _ = b.next()
    assert b.batch_size == len(moons.x_train) == x.shape[0] and b.steps_per_epoch == 1


def test_sequence_and_regression_batches(moons):
    sine = prepare(DataSpec(name="sine", params={"n_samples": 100}), seed=0)
    x, y = Batches(sine, 16, CPU, seed=0).next()
    assert x.shape == (16, 20, 1) and y.shape == (16, 1) and y.dtype == torch.float32
    copy = prepare(DataSpec(name="copy", params={"n_samples": 100}), seed=0)
    x, y = Batches(copy, 16, CPU, seed=0).next()
    assert x.shape == (16, 26, 10) and y.shape == (16, 5) and y.dtype == torch.int64


def test_augmentation_changes_images_but_not_labels(digits):
    torch.manual_seed(0)  # kornia draws from the global RNG; the trainer seeds it
    plain = first(Batches(digits, 64, CPU, seed=0), 3)
    augmented = first(Batches(digits, 64, CPU, seed=0, augment=["hflip", "affine", "noise"]), 3)
    for (xp, yp), (xa, ya) in zip(plain, augmented):
        assert torch.equal(yp, ya) and xa.shape == xp.shape
        assert not torch.equal(xa, xp)
    b = Batches(digits, 64, CPU, seed=0, augment=["noise"])
    xv, _ = b.val_tensors()
    assert torch.equal(xv, torch.from_numpy(digits.x_val))  # validation is never augmented


def test_augmentation_is_refused_for_non_image_data(moons):
    with pytest.raises(ValueError, match="image"):
        Batches(moons, 16, CPU, seed=0, augment=["noise"])


def test_eval_tensors_are_fixed_and_on_the_device(digits):
    b = Batches(digits, 32, CPU, seed=0)
    xv, yv = b.val_tensors()
    assert xv.shape == (len(digits.x_val), 1, 8, 8) and torch.equal(yv, torch.from_numpy(digits.y_val))
    xt, yt = b.train_eval_tensors(max_n=100)
    assert xt.shape[0] == 100 and yt.shape == (100,)
    again = Batches(digits, 32, CPU, seed=0).train_eval_tensors(max_n=100)
    assert torch.equal(again[0], xt)  # the same rows every time for a seed
    assert b.train_eval_tensors(max_n=10_000)[0].shape[0] == len(digits.x_train)


def test_streaming_through_a_dataloader_matches_the_contract(digits, moons):
    with Batches(digits, 32, CPU, seed=3, device_bytes_limit=1024) as streamed:
        assert streamed.streaming
        batches = first(streamed, 2 * streamed.steps_per_epoch + 1)  # crosses two epoch boundaries
        assert streamed.epoch == 2
    for x, y in batches:
        assert x.shape == (32, 1, 8, 8) and y.shape == (32,) and y.dtype == torch.int64
    # Worker processes only fetch: the shuffle is the same as in-process.
    with Batches(digits, 32, CPU, seed=3, device_bytes_limit=1024, num_workers=0) as in_process:
        assert_same(batches[:5], first(in_process))
    # One epoch draws each row at most once, as on the resident path.
    with Batches(moons, 48, CPU, seed=0, device_bytes_limit=1024, num_workers=0) as b:
        seen = torch.cat([b.next()[0] for _ in range(b.steps_per_epoch)])
        assert len(torch.unique(seen, dim=0)) == 144


def test_resident_is_the_default_on_cpu_and_the_limit_applies_when_given(digits):
    assert not Batches(digits, 32, CPU, seed=0).streaming
    assert Batches(digits, 32, CPU, seed=0, device_bytes_limit=10, num_workers=0).streaming


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_batches_match_cpu_batches(digits):
    gpu = torch.device("cuda")
    on_gpu = first(Batches(digits, 64, gpu, seed=0))
    on_cpu = first(Batches(digits, 64, CPU, seed=0))
    assert on_gpu[0][0].device.type == "cuda"
    assert_same([(x.cpu(), y.cpu()) for x, y in on_gpu], on_cpu)
    streamed = first(Batches(digits, 64, gpu, seed=0, device_bytes_limit=1024))
    assert streamed[0][0].device.type == "cuda"
