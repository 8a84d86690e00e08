"""``torchrun ... -m engine.ddp_worker RUN_ID``: one rank of a run across processes.

Started N times by ``gradclinic run RECIPE --nproc N`` (:mod:`engine.control.nproc`), which
created the run's row first. Every rank reads the run's recipe from the store named by
``GRADCLINIC_HOME``, joins the process group and trains; rank 0 records (see
:mod:`engine.training.distributed` for what is measured where). Rank 0 prints the run's JSON
summary on stdout for the command to show. Exit codes: 0, 2 for a user error, 1 otherwise.
"""

from __future__ import annotations

import json
import sys

from engine.config.errors import DataError, RecipeError
from engine.store import Store


def main(argv: list[str]) -> int:
    """Train rank ``$RANK`` of the run ``argv[0]``."""
    if len(argv) != 1:
        sys.stderr.write("usage: torchrun ... -m engine.ddp_worker RUN_ID\n")
        return 2
    run_id = argv[0]
    from engine.config.recipe import Recipe
    from engine.training import distributed, session

    ranks = distributed.Ranks.from_env()
    if ranks is None:
        sys.stderr.write("engine.ddp_worker runs under torchrun (RANK and WORLD_SIZE are not set)\n")
        return 2
    store = Store()
    try:
        recipe = Recipe.from_dict(store.get_run(run_id)["recipe"])
        device = distributed.device_for(ranks, session.resolve_device(recipe.train.device))
        recipe = recipe.with_overrides({"train.device": device.type})
        distributed.start(ranks, device)
        try:
            prepared = session.prepare(recipe, store)
            prepared.device = device
            if ranks.is_main:
                summary = session.train(store, run_id, prepared, ranks=ranks)
                sys.stdout.write(json.dumps(summary) + "\n")
            else:
                session.train_rank(prepared, ranks)
        finally:
            distributed.stop()
    except (RecipeError, DataError) as exc:
        sys.stderr.write(f"gradclinic: rank {ranks.rank}: {exc}\n")
        return 2
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
