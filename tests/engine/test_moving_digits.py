"""The moving_digits dataset: clips of a sliding digit, deterministic per seed, order the only clue to the way."""

import numpy as np
import pytest

from engine.config.errors import RecipeError
from engine.config.recipe import DataSpec, load_recipe
from engine.datasets import check_params, kind, prepare
from engine.datasets import moving_digits as md

# (axis of the frame it moves along, sign): the frame is (C, H, W), so 2 is down the rows, 3 across.
MOTION = {"left": (2, -1), "right": (2, 1), "up": (1, -1), "down": (1, 1)}


def raw(seed=0, **params):
    return md.load(check_params("moving_digits", params), seed)


def test_clips_have_the_declared_shape_and_balanced_labels():
    r = raw(n_samples=200)
    assert (r.kind, kind("moving_digits"), r.task, r.standardize) == ("video", "video", "classification", "global")
    assert r.x.shape == (200, 4, 1, 12, 12) and r.x.dtype == np.float32
    assert r.class_names == ("left", "right", "up", "down") and r.n_classes == 4
    assert np.bincount(r.y).tolist() == [50, 50, 50, 50]
    assert 0.0 <= r.x.min() and r.x.max() <= 16.0  # pixel intensities, no noise by default
    ds = prepare(DataSpec(name="moving_digits", params={"n_samples": 200}), 0)
    assert ds.input_shape == (4, 1, 12, 12) and ds.x_train.shape[1:] == (4, 1, 12, 12)


def test_the_params_change_the_clips_and_the_labels():
    r = raw(n_samples=80, frames=6, canvas=18, step=2, directions=2, label="both", noise=1.0)
    assert r.x.shape == (80, 6, 1, 18, 18)
    assert r.n_classes == 20 and r.class_names[:3] == ("0 ←", "0 →", "1 ←")
    assert r.x.min() < 0  # the noise
    digit = raw(n_samples=80, label="digit")
    assert digit.n_classes == 10 and digit.class_names == tuple("0123456789")
    # The same draw: "both" is the digit and the way of the same clips.
    both, way = raw(n_samples=80, directions=2, label="both"), raw(n_samples=80, directions=2)
    assert np.array_equal(both.x, way.x) and np.array_equal(both.y % 2, way.y)
    assert set(way.class_names) == {"left", "right"}


def test_a_seed_gives_the_same_clips_and_another_seed_others():
    a, b, c = raw(3, n_samples=100), raw(3, n_samples=100), raw(4, n_samples=100)
    assert np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y)
    assert not np.array_equal(a.x, c.x)


def test_each_frame_is_the_last_one_moved_one_step_its_way():
    r = raw(n_samples=120, step=2, canvas=16)
    for clip, label in zip(r.x, r.y):
        axis, sign = MOTION[r.class_names[label]]
        for before, after in zip(clip[:-1], clip[1:]):
            assert np.array_equal(np.roll(before, sign * 2, axis=axis), after)  # nothing wraps round the edge
            assert before.sum() == after.sum()  # the whole digit stays on the canvas


def _centre(frame: np.ndarray, axis: int) -> float:
    profile = frame.sum(axis=tuple(a for a in range(frame.ndim) if a != axis))
    return float((profile * np.arange(len(profile))).sum() / profile.sum())


def test_a_clip_played_backwards_is_as_likely_as_a_clip_of_the_other_way():
    """Where a clip moving right starts is distributed as where one moving left ends, and the other way
    round: the set of frames says nothing about the way, only their order does."""
    r = raw(n_samples=4000, directions=2)
    first = np.array([_centre(clip[0], 2) for clip in r.x])
    last = np.array([_centre(clip[-1], 2) for clip in r.x])
    right, left = r.y == 1, r.y == 0
    travel = 3  # 1 pixel a frame, 4 frames
    assert np.allclose(last[right] - first[right], travel) and np.allclose(first[left] - last[left], travel)
    for a, b in [(first[right], last[left]), (last[right], first[left])]:
        assert abs(a.mean() - b.mean()) < 0.1
        assert np.allclose(np.quantile(a, [0.1, 0.5, 0.9]), np.quantile(b, [0.1, 0.5, 0.9]), atol=0.3)
        assert abs(a.min() - b.min()) < 0.5 and abs(a.max() - b.max()) < 0.5
    # ...and the starts cover every place the digit fits, not one fixed edge.
    assert np.ptp(first[right]) > 2


@pytest.mark.parametrize(
    "params,message",
    [
        ({"frames": 9}, "data.params.canvas: a digit moving 1 pixel a frame for 9 frames travels 8 pixels"),
        ({"step": 2, "frames": 4, "canvas": 12}, "use canvas >= 14"),
        ({"label": "sum"}, "data.params.label"),
        ({"directions": 3}, "data.params.directions"),
        ({"n_samples": 10}, "data.params.n_samples"),
        ({"speed": 2}, "data.params.speed: unknown key"),
    ],
)
def test_bad_params_are_refused_naming_the_key(params, message):
    with pytest.raises(RecipeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_recipe(None, {"data.name": "moving_digits", "model.arch": "crnn", "data.params": params})


@pytest.mark.parametrize(
    "sets,message",
    [
        (
            {"data.augment": ["hflip"]},
            "data.augment: augmentations work on image data; dataset 'moving_digits' is video",
        ),
        (
            {"data.loader": {"kind": "dataloader", "cpu_augment": ["affine"]}},
            "data.loader.cpu_augment: loader.cpu_augment works on image data; dataset 'moving_digits' is video",
        ),
        ({"model.arch": "transformer"}, "model.arch: transformer needs sequence or image data"),
        ({"model.arch": "gan"}, "model.arch: gan needs 2-D points"),
    ],
)
def test_what_cannot_take_video_is_refused_naming_the_key(sets, message):
    with pytest.raises(RecipeError) as err:
        load_recipe(None, {"data.name": "moving_digits", **sets})
    assert str(err.value).startswith(message), str(err.value)
