"Shared pytest fixtures."
from pathlib import Path
import pytest


@pytest.fixture(scope="session")
def tiny_demo(tmp_path_factory) -> Path:
    "A folder with a tiny synthetic population ingested: `raw/`, `wh/` (the warehouse) and `k.key` (scale 0.001, seed 3)."
    from famdoc_lab.synth import synth
    from famdoc_lab.ingest import ingest
    tmp = tmp_path_factory.mktemp("tiny_demo")
    ingest(synth(scale=0.001, seed=3, out=tmp, progress=False), tmp / "wh", key_file=tmp / "k.key", progress=False)
    return tmp
