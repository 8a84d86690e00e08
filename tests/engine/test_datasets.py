"""Datasets: every registered dataset prepares, splits are seeded and fair, bad CSVs are refused clearly."""

from pathlib import Path

import numpy as np
import pytest

from engine.config.errors import DataError, RecipeError
from engine.config.names import DATASETS
from engine.config.recipe import DataSpec, load_recipe
from engine.datasets import describe, prepare

SAMPLE_CSV = Path(__file__).resolve().parents[2] / "sample_data" / "penguins.csv"

# name -> (task, kind, input_shape, target_len)
EXPECTED = {
    "digits": ("classification", "image", (1, 8, 8), 1),
    "breast_cancer": ("classification", "tabular", (30,), 1),
    "wine": ("classification", "tabular", (13,), 1),
    "moons": ("classification", "tabular", (2,), 1),
    "circles": ("classification", "tabular", (2,), 1),
    "spirals": ("classification", "tabular", (2,), 1),
    "ring": ("classification", "tabular", (2,), 1),
    "one_feature": ("classification", "tabular", (8,), 1),
    "adding": ("regression", "sequence", (50, 2), 1),
    "copy": ("classification", "sequence", (26, 10), 5),
    "sine": ("regression", "sequence", (20, 1), 1),
    "moving_digits": ("classification", "video", (4, 1, 12, 12), 1),
    "csv": ("classification", "tabular", (4,), 1),
}


def spec(name="moons", params=None, **fields) -> DataSpec:
    if name == "csv" and params is None:
        params = {"path": str(SAMPLE_CSV), "target": "species"}
    return DataSpec(name=name, params=params or {}, **fields)


def write_csv(tmp_path, text: str, name="data.csv") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def good_rows(n=40, label=lambda i: "ab"[i % 2]) -> str:
    rng = np.random.default_rng(0)
    return "\n".join(f"{rng.normal():.4f},{rng.normal():.4f},{label(i)}" for i in range(n))


def csv_refusal(path: str, target="label") -> str:
    with pytest.raises(DataError) as info:
        prepare(spec("csv", {"path": path, "target": target}), seed=0)
    return str(info.value)


# --- every dataset -----------------------------------------------------------


def test_every_registered_dataset_is_covered_here():
    assert set(DATASETS.names()) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_dataset_prepares_with_defaults(name):
    task, kind, shape, target_len = EXPECTED[name]
    ds = prepare(spec(name), seed=0)
    assert (ds.task, ds.kind, ds.input_shape, ds.target_len) == (task, kind, shape, target_len)
    assert ds.x_train.dtype == ds.x_val.dtype == np.float32
    assert ds.x_train.shape[1:] == ds.x_val.shape[1:] == shape
    assert len(ds.x_train) == len(ds.y_train) and len(ds.x_val) == len(ds.y_val)
    n = len(ds.y_train) + len(ds.y_val)
    assert len(ds.y_val) == pytest.approx(0.2 * n, abs=1)
    assert np.isfinite(ds.x_train).all() and np.isfinite(ds.x_val).all()
    if task == "classification":
        assert ds.y_train.dtype == np.int64 and ds.n_classes >= 2
        assert ds.y_train.min() >= 0 and ds.y_train.max() < ds.n_classes
        assert ds.n_outputs == ds.n_classes * target_len
        assert 0 < ds.chance_accuracy < 1
    else:
        assert ds.y_train.dtype == np.float32 and ds.y_train.shape == (len(ds.x_train), ds.out_dim)
        assert ds.n_classes is None and ds.chance_accuracy is None
    assert DATASETS.module(name).KIND == kind
    assert describe(name).startswith(f"{name} ({kind}): ")


def test_adding_problem_marks_one_value_in_each_half_and_sums_them():
    ds = prepare(spec("adding", {"seq_len": 10, "n_samples": 200}), seed=1)
    x, y = ds.x_train, ds.y_train
    marker = x[:, :, 1]
    assert set(np.unique(marker)) == {0.0, 1.0}  # not standardised
    assert (marker[:, :5].sum(1) == 1).all() and (marker[:, 5:].sum(1) == 1).all()
    np.testing.assert_allclose((x[:, :, 0] * marker).sum(1), y[:, 0], rtol=1e-6)


def test_copy_task_targets_are_the_leading_symbols():
    ds = prepare(spec("copy", {"k": 3, "n_symbols": 4, "seq_len": 6}), seed=0)
    x, y = ds.x_train, ds.y_train
    assert x.shape[1:] == (3 + 6 + 1, 4 + 2) and y.shape[1] == 3 and ds.n_classes == 4
    assert (x.sum(axis=2) == 1).all()  # one-hot at every step
    np.testing.assert_array_equal(x[:, :3].argmax(axis=2), y)
    assert (x[:, 3:-1].argmax(axis=2) == 4).all() and (x[:, -1].argmax(axis=1) == 5).all()


def test_spirals_params_change_the_data():
    ds = prepare(spec("spirals", {"n_classes": 3, "n_samples": 300}), seed=0)
    assert ds.n_classes == 3 and np.bincount(ds.y_train).tolist() == [80, 80, 80]


# --- split, limit, standardisation -------------------------------------------


def test_same_seed_gives_identical_arrays_and_another_seed_another_split():
    a, b, c = (prepare(spec("wine"), seed=s) for s in (7, 7, 8))
    for field in ("x_train", "y_train", "x_val", "y_val"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert not np.array_equal(a.x_train, c.x_train)


def test_stratified_split_keeps_class_proportions():
    ds = prepare(spec("wine", val_fraction=0.3), seed=3)
    whole = np.bincount(np.concatenate([ds.y_train, ds.y_val])) / (len(ds.y_train) + len(ds.y_val))
    for part in (ds.y_train, ds.y_val):
        np.testing.assert_allclose(np.bincount(part) / len(part), whole, atol=0.02)


def test_train_limit_keeps_a_stratified_subset_and_leaves_val_alone():
    full = prepare(spec("digits"), seed=0)
    small = prepare(spec("digits", train_limit=100), seed=0)
    assert len(small.y_train) == 100 and len(small.y_val) == len(full.y_val)
    assert np.bincount(small.y_train, minlength=10).min() >= 9  # about 10 of each digit
    everything = prepare(spec("digits", train_limit=10_000), seed=0)
    assert len(everything.y_train) == len(full.y_train)


def test_standardisation_is_fit_on_train_only():
    ds = prepare(spec("breast_cancer"), seed=0)
    np.testing.assert_allclose(ds.x_train.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(ds.x_train.std(axis=0), 1.0, atol=1e-4)
    assert not np.allclose(ds.x_val.mean(axis=0), 0.0, atol=1e-3)  # val only shares train's scale
    img = prepare(spec("digits"), seed=0)  # one global scalar for images
    assert abs(img.x_train.mean()) < 1e-5 and abs(img.x_train.std() - 1) < 1e-4
    assert np.ptp(img.x_train.mean(axis=0)) > 1  # individual pixels keep their differences


# --- CSV ---------------------------------------------------------------------


def test_sample_csv_loads_as_three_class_classification():
    ds = prepare(spec("csv"), seed=0)
    assert ds.class_names == ("Adelie", "Chinstrap", "Gentoo") and ds.n_classes == 3
    assert ds.feature_names == ("bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g")
    assert len(ds.y_train) + len(ds.y_val) == 342


def test_sample_csv_is_found_from_a_project_relative_path(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    ds = prepare(spec("csv", {"path": "sample_data/penguins.csv", "target": "species"}), seed=0)
    assert ds.n_classes == 3


def test_csv_with_many_distinct_float_targets_is_regression(tmp_path):
    rng = np.random.default_rng(0)
    rows = "\n".join(f"{a:.3f},{a * 300 + 40:.3f}" for a in rng.normal(size=60))
    ds = prepare(spec("csv", {"path": write_csv(tmp_path, "x,price\n" + rows), "target": "price"}), seed=0)
    assert ds.task == "regression" and ds.y_train.shape == (48, 1) and ds.out_dim == 1
    assert abs(ds.y_train.mean()) < 1e-5  # large targets are scaled like the inputs


def test_csv_integer_target_with_few_values_is_classification(tmp_path):
    path = write_csv(tmp_path, "f1,f2,label\n" + good_rows(label=lambda i: 3 + i % 3))
    ds = prepare(spec("csv", {"path": path, "target": "label"}), seed=0)
    assert ds.task == "classification" and ds.class_names == ("3", "4", "5")


def test_csv_max_rows_keeps_a_random_subset(tmp_path):
    path = write_csv(tmp_path, "f1,f2,label\n" + good_rows(n=100, label=lambda i: "ab"[i >= 50]))
    ds = prepare(spec("csv", {"path": path, "target": "label", "max_rows": 40}), seed=0)
    assert len(ds.y_train) + len(ds.y_val) == 40 and ds.n_classes == 2  # not just the first 40 (all 'a')


@pytest.mark.parametrize(
    "content, expected",
    [
        ("", "empty"),
        ("f1,f2,label\n", "no data rows"),
        ("f1,f2,label\n" + good_rows(n=10), "only 10 data rows"),
        ("f1,f2,label\n" + good_rows().replace("0.", "abc", 1), "column 'f1' is not numeric (line 2: 'abc"),
        ("f1,f2,label\n" + good_rows() + "\n,1.0,a\n2.0,,b\n3.0,,a", "'f1' (1), 'f2' (2)"),
        ("f1,f2,label\n" + good_rows() + "\n1,2,3,4,5", "not readable as CSV"),
        ("f1,f2,label\n" + good_rows() + "\n0.1,0.2,c", "'c' of 'label' have only 1 row"),
        ("f1,f2,label\n" + good_rows(label=lambda i: "a"), "single value"),
        ("f1,f2,klass\n" + good_rows(), "no column named 'label'; the columns are: f1, f2, klass"),
        ("label\n" + "\n".join("ab"[i % 2] for i in range(30)), "at least one feature column"),
        ("f1,f2,label\n" + good_rows() + "\ninf,0.1,a", "infinite values in column(s) f1"),
    ],
    ids=[
        "empty",
        "header-only",
        "few-rows",
        "non-numeric",
        "missing-cells",
        "ragged",
        "lonely-class",
        "one-class",
        "no-target",
        "no-features",
        "infinite",
    ],
)
def test_bad_csv_is_refused_with_one_clear_message(tmp_path, content, expected):
    message = csv_refusal(write_csv(tmp_path, content))
    assert expected in message
    assert "data.csv" in message and "\n" not in message and "Traceback" not in message


def test_unreadable_files_are_refused_clearly(tmp_path, monkeypatch):
    assert "not found" in csv_refusal(str(tmp_path / "nope.csv"))
    assert "is not a file" in csv_refusal(str(tmp_path))
    latin = tmp_path / "latin.csv"
    latin.write_bytes(("f1,f2,label\n" + good_rows() + "\n0.1,0.2,caf\xe9\n").encode("latin-1"))
    assert "not UTF-8" in csv_refusal(str(latin))
    binary = tmp_path / "photo.csv"
    binary.write_bytes(bytes(range(256)) * 4)
    assert "binary" in csv_refusal(str(binary))
    import engine.datasets.csv as csv_module

    monkeypatch.setattr(csv_module, "MAX_BYTES", 100)
    assert "the limit is" in csv_refusal(write_csv(tmp_path, "f1,f2,label\n" + good_rows()))


def test_data_errors_are_recipe_errors_for_the_cli():
    assert issubclass(DataError, RecipeError)


# --- params through the recipe -----------------------------------------------


def test_recipe_validates_dataset_params():
    r = load_recipe(None, {"data.name": "csv", "data.params": {"path": str(SAMPLE_CSV), "target": "species"}})
    assert r.data.params == {"path": str(SAMPLE_CSV), "target": "species", "max_rows": None}
    moons = load_recipe(None, ["data.name=moons", "data.params.noise=0.3"])
    assert moons.data.params == {"n_samples": 1000, "noise": 0.3}
    with pytest.raises(RecipeError, match=r"data\.params\.colour"):
        load_recipe(None, {"data.name": "csv", "data.params": {"path": "a.csv", "target": "y", "colour": 1}})
    with pytest.raises(RecipeError, match=r"data\.params\.target"):
        load_recipe(None, {"data.name": "csv", "data.params": {"path": "a.csv"}})
    with pytest.raises(RecipeError, match=r"data\.params\.noise"):
        load_recipe(None, {"data.name": "moons", "data.params": {"noise": -1}})
    with pytest.raises(RecipeError, match="takes no params"):
        load_recipe(None, {"data.name": "wine", "data.params": {"noise": 1}})
    with pytest.raises(RecipeError, match=r"data\.params\.blur: unknown key; allowed: classes, half, noise"):
        load_recipe(None, {"data.name": "digits", "data.params": {"blur": 1}})
    with pytest.raises(RecipeError, match=r"data\.params\.half"):
        load_recipe(None, {"data.name": "digits", "data.params": {"half": "c"}})
    with pytest.raises(RecipeError, match=r"data\.params\.classes: .*distinct digits from 0 to 9"):
        load_recipe(None, {"data.name": "digits", "data.params": {"classes": [3, 3]}})
    with pytest.raises(RecipeError, match="too large"):
        load_recipe(None, {"data.name": "adding", "data.params": {"seq_len": 1000, "n_samples": 1_000_000}})


def test_dataset_modules_import_scikit_learn_and_pandas_only_when_they_load_data():
    """Listing and describing datasets stays fast (the torch line itself: tests/test_layering.py)."""
    import subprocess
    import sys

    code = (
        "import sys\nfrom engine.config.names import DATASETS\nfrom engine.datasets import describe\n"
        "for n in DATASETS.names(): DATASETS.module(n); describe(n)\n"
        "print(sorted(m for m in ('sklearn', 'pandas') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_one_feature_decides_its_class_by_the_sign_of_its_key_feature():
    ds = prepare(spec("one_feature", {"key": 5}), seed=0)
    assert ds.feature_names[5] == "f6"
    # standardisation keeps signs only roughly (the train mean is ~0), so check agreement, not equality
    assert np.mean((ds.x_train[:, 5] > 0) == (ds.y_train == 1)) > 0.97
    with pytest.raises(DataError, match="data.params.key: 9 is not one of the 8 features"):
        prepare(spec("one_feature", {"key": 9}), seed=0)


def test_digits_can_keep_some_digits_renumbered_from_zero():
    """Two tasks from one dataset (transfer learning): the digits 5-9, ten training images of each."""
    r = load_recipe(None, {"data.name": "digits", "data.params": {"classes": [5, 6, 7, 8, 9]}, "data.train_limit": 50})
    d = prepare(r.data, 0)
    assert d.n_classes == 5 and d.class_names == ("5", "6", "7", "8", "9")
    assert np.bincount(d.y_train).tolist() == [10] * 5 and set(np.unique(d.y_val)) == {0, 1, 2, 3, 4}
    assert len(d.x_train) + len(d.x_val) < 1797 // 2 + 20  # about half of the 1,797 images


def test_digits_halves_split_the_images_alike_at_every_seed_and_noise_is_one_fixed_draw():
    """A source on half a and a target on half b never share an image, whatever their seeds."""
    from engine.datasets import digits

    a, b = digits.load({"half": "a"}, 0), digits.load({"half": "b"}, 1)
    assert len(a.y) + len(b.y) == 1797 and abs(len(a.y) - len(b.y)) <= 1
    rows = lambda raw: {x.tobytes() for x in raw.x}  # noqa: E731
    assert not rows(a) & rows(b) and rows(a) == rows(digits.load({"half": "a"}, 5))
    noisy = digits.load({"half": "a", "noise": 4.5}, 0)
    assert np.array_equal(noisy.x, digits.load({"half": "a", "noise": 4.5}, 3).x)  # the dataset, not the seed
    assert 4.0 < float((noisy.x - a.x).std()) < 5.0 and "noise σ=4.5" in noisy.description
