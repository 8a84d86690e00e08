"""A running job's data errors name an uploaded CSV by the name it was uploaded as, not its stored hash name."""

from __future__ import annotations

from engine.config.recipe import load_recipe
from engine.control import lifecycle, queue
from engine.datasets import csv
from engine.store import Store
from tests.app.conftest import ROOT
from tests.engine.fault_helpers import wait_for

PENGUINS = (ROOT / "sample_data" / "penguins.csv").read_bytes()


def stored_upload(home, name: str, data: bytes):
    """The file as the dashboard keeps an upload: ``uploads/<content hash>-<name>.csv``."""
    folder = home / csv.UPLOADS
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / csv.upload_file_name(data, name)
    path.write_bytes(data)
    return path


def test_an_upload_is_called_by_its_own_name_and_other_files_by_theirs(tmp_path):
    path = stored_upload(tmp_path, "penguins (1)", PENGUINS)
    assert path.name != "penguins (1).csv" and csv.shown_name(path) == "penguins (1).csv"
    elsewhere = tmp_path / path.name  # the same hash-like name outside uploads/ is a user's own file
    assert csv.shown_name(elsewhere) == path.name


def test_a_worker_failing_on_an_uploaded_csv_names_the_file_the_user_uploaded(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADCLINIC_HOME", str(tmp_path))
    path = stored_upload(tmp_path, "penguins", PENGUINS)
    # The upload passed its checks with target "species"; a link (or the Advanced box) then asks for a
    # column it lacks, which only the worker, reading the whole file, finds out.
    recipe = load_recipe(None, {"data.name": "csv", "data.params": {"path": str(path), "target": "wingspan"}})
    with Store(tmp_path) as store:
        run_id = lifecycle.launch(store, recipe)
        try:
            wait_for(lambda: store.get_run(run_id)["status"] == "failed", timeout=90)
        finally:
            run = store.get_run(run_id)
            if run["status"] in ("queued", "running"):  # never leave a worker behind
                queue.kill_group(run.get("pid"))
        error = store.get_run(run_id)["error"]
    assert error.startswith("data.params.target: penguins.csv has no column named 'wingspan'"), error
    assert path.name not in error
