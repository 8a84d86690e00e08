"""The flagship claims, tried as a new user would from the command line."""

import json

import pytest

from engine.cli import main


def cli(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


@pytest.mark.slow
def test_deep_sigmoid_starves_its_first_layer_and_he_relu_fixes_it(tmp_path, capsys):
    home = ["--home", str(tmp_path)]
    sick = cli(capsys, *home, "run", "vanishing-sigmoid", "--json")
    flow = cli(capsys, *home, "show", sick["run_id"], "--json")["gradient_flow"]
    first, last = flow["layers"][0], flow["layers"][-1]
    assert (first["name"], last["name"]) == ("layers.0", "head")
    assert first["grad_norm_median"] * 1000 <= last["grad_norm_median"]
    assert flow["first_to_last"] < 1e-3
    healthy = cli(
        capsys,
        *home,
        "run",
        "vanishing-sigmoid",
        "--set",
        "model.init=he_normal",
        "--set",
        "model.activation=relu",
        "--json",
    )
    gap = healthy["final"]["val_accuracy"] - sick["final"]["val_accuracy"]
    print(
        f"first/last gradient ratio {flow['first_to_last']:.2e}; val accuracy "
        f"{sick['final']['val_accuracy']:.3f} -> {healthy['final']['val_accuracy']:.3f} (gap {gap:+.3f})"
    )
    assert gap > 0.5


@pytest.mark.slow
def test_compare_puts_he_init_ahead(tmp_path, capsys):
    # He init is made for ReLU: on the sigmoid net alone it moves the first/last
    # gradient ratio from ~1e-17 to ~1e-9, still starved. Under ReLU, the init
    # decides whether the 20-layer net learns at all.
    summary = cli(
        capsys,
        "--home",
        str(tmp_path),
        "compare",
        "vanishing-sigmoid",
        "--vary",
        "model.init=default,he_normal",
        "--set",
        "model.activation=relu",
        "--wait",
        "--json",
    )
    by_label = {v["label"]: v for v in summary["variants"]}
    assert set(by_label) == {"baseline", "model.init=he_normal"}
    base, he = by_label["baseline"]["final"]["mean"], by_label["model.init=he_normal"]["final"]["mean"]
    print(f"compare: baseline {base:.3f}, he_normal {he:.3f}")
    assert he > base + 0.5
    main(["--home", str(tmp_path), "ls"])
    listing = capsys.readouterr().out
    assert all(run in listing for v in summary["variants"] for run in v["runs"])
