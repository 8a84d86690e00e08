"""Recipes: defaults, overrides, and a clear refusal for every kind of mistake."""

import pytest

from engine.config.errors import RecipeError
from engine.config.recipe import Recipe, list_recipe_names, load_recipe, parse_override


def refusal(source=None, overrides=None) -> str:
    with pytest.raises(RecipeError) as info:
        load_recipe(source, overrides)
    return str(info.value)


def test_defaults_are_one_complete_recipe():
    r = load_recipe()
    assert r.data.name == "digits" and r.model.arch == "mlp" and r.train.optimizer == "adam"
    assert r.probes.budget == 0.05


def test_builtin_recipe_by_name_and_by_path(tmp_path):
    r = load_recipe("vanishing-sigmoid")
    assert r.name == "vanishing-sigmoid" and r.model.depth == 20 and r.model.activation == "sigmoid"
    path = tmp_path / "mine.yaml"
    path.write_text("model: {depth: 4}\ntrain: {lr: 0.05}\n")
    mine = load_recipe(path)
    assert mine.name == "mine" and mine.model.depth == 4 and mine.train.lr == 0.05


def test_every_builtin_recipe_loads_with_its_variants():
    assert list_recipe_names(), "no recipes shipped"
    for name in list_recipe_names():
        r = load_recipe(name)
        assert r.title, f"{name} has no title"
        for v in r.compare:
            r.with_overrides(v.set)


def test_overrides_are_coerced_to_the_field_type():
    r = load_recipe(
        "vanishing-sigmoid",
        ["train.lr=0.01", "model.residual=true", "model.depth=5", "train.clip_norm=1", "data.augment=[hflip, noise]"],
    )
    assert r.train.lr == 0.01 and r.model.residual is True and r.model.depth == 5
    assert r.train.clip_norm == 1.0 and r.data.augment == ("hflip", "noise")
    assert load_recipe(None, ["train.early_stopping.patience=3"]).train.early_stopping.patience == 3
    assert load_recipe(None, {"model.init": "he_normal"}).model.init == "he_normal"


def test_round_trip_through_plain_data():
    r = load_recipe("vanishing-sigmoid", ["train.clip_norm=2.5"])
    assert Recipe.from_dict(r.to_dict()) == r


@pytest.mark.parametrize(
    "override, path, hint",
    [
        (["train.lr=0"], "train.lr", "greater than 0"),
        (["train.lr=-1"], "train.lr", "greater than 0"),
        (["model.depth=0"], "model.depth", "greater than or equal to 1"),
        (["model.dropout=1.0"], "model.dropout", "less than 1"),
        (["model.dropout=-0.1"], "model.dropout", "greater than or equal to 0"),
        (["data.val_fraction=0"], "data.val_fraction", "greater than 0"),
        (["data.val_fraction=1"], "data.val_fraction", "less than 1"),
        (["data.name=mnist"], "data.name", "allowed: adding"),
        (["model.arch=resnet9000"], "model.arch", "allowed: "),
        (["train.optimizer=lion"], "train.optimizer", "allowed: adam, adamw"),
        (["train.schedule=warmup"], "train.schedule", "allowed: constant"),
        (["model.init=magic"], "model.init", "allowed: default"),
        (["model.activation=swishy"], "model.activation", "allowed: "),
        (["model.norm=group"], "model.norm", "'none', 'batch' or 'layer'"),
        (["train.device=tpu"], "train.device", "'auto', 'cpu', 'cuda' or 'mps'"),
        (["data.augment=[rotate]"], "data.augment", "allowed: affine, hflip, noise"),
        (["model.depth=deep"], "model.depth", "valid integer"),
        (["model.residual=maybe"], "model.residual", "valid boolean"),
        (["model.depth=2.5"], "model.depth", "valid integer"),
        (["train.steps=10", "train.lr=fast"], "train.lr", "valid number"),
    ],
)
def test_bad_values_name_the_dotted_path_and_what_is_allowed(override, path, hint):
    msg = refusal("vanishing-sigmoid", override)
    assert msg.startswith(path + ":"), msg
    assert hint in msg, msg


def test_unknown_keys_are_refused_with_the_known_ones():
    assert "train.learning_rate: unknown key; train has: optimizer, lr" in refusal(None, ["train.learning_rate=0.1"])
    assert "unknown key" in refusal(None, ["trian.lr=0.1"])
    assert "expected KEY=VALUE" in refusal(None, ["train.lr"])


def test_unknown_keys_in_a_file_are_refused(tmp_path):
    path = tmp_path / "typo.yaml"
    path.write_text("model:\n  depht: 3\n")
    msg = refusal(path)
    assert msg.startswith("model.depht: unknown key; allowed: arch, depth"), msg


def test_a_recipe_is_data_never_code(tmp_path):
    path = tmp_path / "evil.yaml"
    path.write_text("seed: !!python/object/apply:os.system ['echo pwned']\n")
    assert "not valid YAML" in refusal(path)


def test_files_that_are_not_recipes(tmp_path):
    assert "no recipe named 'nope'" in refusal("nope")
    assert "recipe file not found" in refusal(tmp_path / "missing.yaml")
    listy = tmp_path / "list.yaml"
    listy.write_text("- 1\n- 2\n")
    assert "must be a mapping" in refusal(listy)


def test_augmentation_needs_image_data():
    msg = refusal(None, ["data.name=moons", "data.augment=[hflip]"])
    assert msg.startswith("data.augment:") and "image data" in msg


def test_dataset_params_are_checked_by_the_dataset():
    assert refusal(None, ["data.name=moons", "data.params.bogus=1"]).startswith("data.params.bogus:")


def test_a_bad_compare_variant_is_refused(tmp_path):
    path = tmp_path / "cmp.yaml"
    path.write_text("compare:\n  - {label: oops, set: {train.lr: -1}}\n")
    msg = refusal(path)
    assert msg.startswith("compare[0] (oops): train.lr:"), msg


def test_parse_override_reads_yaml_scalars():
    assert parse_override("train.lr=1e-3") == ("train.lr", 1e-3)
    assert parse_override("train.clip_norm=null") == ("train.clip_norm", None)
    assert parse_override("model.init=he_normal") == ("model.init", "he_normal")
