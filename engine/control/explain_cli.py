"""``gradclinic explain RUN``: Captum attributions of a trained run, from the command line.

Thin, like the rest of the CLI: check the method and the bounds first (exit 2 with one line
naming the flag, before torch or captum load), then attribute in this process
(:mod:`engine.training.explain`) and print the most important inputs, or ``--json``. Work is
bounded: ``--samples`` x ``--steps`` model evaluations at most :data:`MAX_EVALS`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from engine.config.errors import RecipeError
from engine.control import explain_job

METHODS = ("ig", "saliency", "deeplift", "gradshap", "occlusion", "layer_conductance")
MAX_SAMPLES = 500
MAX_STEPS = 500
#: samples x steps: about a minute of a small CPU for the digits MLP.
MAX_EVALS = 20_000
#: The kinds of data whose attributions are drawn (per feature, per pixel, per time step); not video.
KINDS = ("tabular", "image", "sequence")


def check(samples: int, steps: int) -> None:
    """Refuse work beyond the bounds, naming the flag."""
    if not 1 <= samples <= MAX_SAMPLES:
        raise RecipeError(f"--samples: give 1 to {MAX_SAMPLES} (got {samples})")
    if not 1 <= steps <= MAX_STEPS:
        raise RecipeError(f"--steps: give 1 to {MAX_STEPS} (got {steps})")
    if samples * steps > MAX_EVALS:
        raise RecipeError(
            f"--samples x --steps: {samples} x {steps} = {samples * steps:,} model evaluations; "
            f"at most {MAX_EVALS:,} (fewer samples or steps)"
        )


def data_error(recipe: Mapping[str, Any]) -> str | None:
    """The refusal of a run whose data the attributions cannot be drawn for (video clips), or None."""
    from engine import datasets

    data = recipe.get("data")
    name = str(data.get("name", "digits")) if isinstance(data, Mapping) else "digits"
    try:
        kind = datasets.kind(name)
    except KeyError:
        return None  # a dataset that is gone: loading the run says so, naming it
    if kind in KINDS:
        return None
    return (
        f"data.name: explain draws attributions for {', '.join(KINDS[:-1])} and {KINDS[-1]} data; this run's "
        f"dataset {name!r} is {kind} (clips of frames), which it does not explain"
    )


def cmd_explain(args: argparse.Namespace) -> int:
    """Explain ``args.run``; 0 when it ran."""
    from engine.cli import EXIT_OK, _print_json, _store

    check(args.samples, args.steps)
    if args.layer is not None and args.method != "layer_conductance":
        raise RecipeError("--layer: a layer's units are explained by --method layer_conductance only")
    store = _store(args)
    request = explain_job.Request(
        store.resolve(args.run), args.method, args.samples, args.steps, args.target, args.checkpoint, args.layer
    )
    refused = data_error(store.get_run(request.run)["recipe"])
    if refused:
        raise RecipeError(refused)
    import torch

    from engine.training.explain import explain

    torch.set_num_threads(1)  # as a worker: the attributions then match on any core count
    # Progress lines are for the dashboard's job, which reads --json; a person gets the answer alone.
    result = explain(store, progress=_progress if args.json else None, **asdict(request))
    if args.save:
        explain_job.save(store.home, request, result)
    if args.json:
        _print_json(result)
    else:
        print_result(result)
    return EXIT_OK


def _progress(done: int, total: int, stage: str) -> None:
    sys.stderr.write(explain_job.progress_line(done, total, stage))
    sys.stderr.flush()


def print_result(r: dict[str, Any], top: int = 8) -> None:
    """The most important inputs (or layers), and IG's completeness check."""
    print(f"run {r['run']}: {r['method']} on {r['samples']} validation samples ({r['checkpoint']} weights)")
    print(f"  explained: {r['explained']}")
    if "layers" in r:
        for layer in r["layers"]:
            print(f"  {layer['layer']:<16} mean |conductance| {layer['mean_abs']:.3g}  per sample {layer['total']:.3g}")
        if r.get("neurons"):
            ranked = sorted(enumerate(r["neurons"]["mean_abs"]), key=lambda p: -p[1])[:top]
            print(
                f"  units of {r['neurons']['layer']} by mean |conductance|: "
                + ", ".join(f"#{u} {v:.3g}" for u, v in ranked)
            )
        return
    imp = r["importance"]
    if r["kind"] == "tabular":
        ranked = sorted(zip(r["features"], imp), key=lambda p: -p[1])[:top]
        print("  mean |attribution| by feature: " + ", ".join(f"{name} {v:.3g}" for name, v in ranked))
    elif r["kind"] == "sequence":
        ranked = sorted(enumerate(imp), key=lambda p: -p[1])[:top]
        print("  mean |attribution| by time step: " + ", ".join(f"t={t} {v:.3g}" for t, v in ranked))
    else:
        print(f"  an attribution map per sample ({len(imp)}x{len(imp[0])}); --json for the maps")
    if "delta" in r:
        print(
            f"  IG convergence delta: at most {r['delta']['max_abs']:.2g} ({r['delta']['max_relative']:.1%} of the gap)"
        )
    if "warning" in r:
        print(f"  warning: {r['warning']}")


def register(add) -> None:
    """Add ``explain`` to the CLI's parser (``add`` is :func:`engine.cli.build_parser`'s helper)."""
    p = add("explain", cmd_explain, "what a trained run looks at: Captum attributions of its saved weights")
    p.add_argument("run")
    p.add_argument("--method", choices=METHODS, default="ig", help="attribution method (default ig)")
    p.add_argument("--samples", type=int, default=16, help=f"validation samples to explain (1 to {MAX_SAMPLES})")
    p.add_argument("--target", type=int, help="the class to explain (default: each sample's predicted class)")
    p.add_argument("--checkpoint", choices=("last", "best"), default="last", help="end-of-run or best weights")
    p.add_argument(
        "--steps", type=int, default=50, help="integration steps (ig, layer_conductance), samples (gradshap)"
    )
    p.add_argument("--layer", help="with layer_conductance: also attribute to each unit of this activation layer")
    p.add_argument("--json", action="store_true", help="print one JSON result on stdout")
    p.add_argument(
        "--save", action="store_true", help="keep the result in the run's folder (the Explain page reads it)"
    )
