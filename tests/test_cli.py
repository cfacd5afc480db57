"CLI contract: subcommands exist, user errors are one line with exit 1."
import subprocess, sys
from pathlib import Path
import pytest

EXE = Path(sys.executable).with_name("famdoc-lab")


def run(*args, **kw):
    return subprocess.run([str(EXE), *args], capture_output=True, text=True, timeout=300, **kw)


def test_help_lists_every_subcommand():
    r = run("--help")
    assert r.returncode == 0
    for sub in ["synth", "ingest", "indicators", "lists", "run", "survey", "dashboard", "bench", "demo"]:
        assert sub in r.stdout


def test_ingest_of_missing_folder_is_one_line_user_error(tmp_path):
    r = run("ingest", str(tmp_path / "nope"), "--warehouse", str(tmp_path / "wh"), "--key-file", str(tmp_path / "k.key"))
    assert r.returncode == 1
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "nope" in r.stderr
    assert not (tmp_path / "wh").exists()


def test_bench_rejects_unknown_stage(tmp_path):
    r = run("bench", "--stage", "nope", "--out", str(tmp_path))
    assert r.returncode != 0
