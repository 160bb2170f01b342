"""The command line starts light: heavy dependencies load only when a command needs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer

from vigil.cli.main import app

from .conftest import Invoke
from .helpers import VIGIL, clean_env

HEAVY = ("fastapi", "uvicorn", "duckdb", "pyarrow", "httpx", "pandas", "polars",
         "vigil.store", "vigil.dwell", "vigil.api")


def loaded_after(code: str) -> set[str]:
    """The modules (of :data:`HEAVY`) a fresh interpreter holds after running ``code``."""
    probe = (f"import sys, json\n{code}\n"
             f"print(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules]))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          env=clean_env(), timeout=60, check=True)
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_importing_the_cli_loads_no_heavy_dependency() -> None:
    assert loaded_after("import vigil.cli.main") == set()


def test_help_and_version_load_no_heavy_dependency() -> None:
    run = ("from vigil.cli.main import app\n"
           "for args in (['--help'], ['version'], ['analytics', '--help'], ['serve', '--help']):\n"
           "    try:\n"
           "        app(args, standalone_mode=False)\n"
           "    except SystemExit:\n"
           "        pass\n")
    assert loaded_after(run) == set()


def test_import_vigil_leaves_settings_and_model_for_later() -> None:
    check = subprocess.run(
        [sys.executable, "-c", "import sys, vigil\n"
         "print('vigil.config' in sys.modules)\n"
         "from vigil import EventIn, Settings, load_settings\n"
         "print(Settings.__module__, EventIn.__module__, load_settings.__module__)"],
        capture_output=True, text=True, env=clean_env(), timeout=60, check=True)
    assert check.stdout.split() == ["False", "vigil.config", "vigil.model", "vigil.config"]


def test_an_unknown_package_attribute_is_an_attribute_error() -> None:
    import vigil

    with pytest.raises(AttributeError, match="no_such_name"):
        _ = vigil.no_such_name  # type: ignore[attr-defined]


def command_paths(command: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command and sub-command of the tree, as argument paths."""
    paths = [prefix]
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        paths += command_paths(sub, (*prefix, name))
    return paths


@pytest.mark.parametrize("path", command_paths(typer.main.get_command(app)),
                         ids=lambda p: " ".join(p) or "vigil")
def test_every_help_is_complete(vigil: Invoke, path: tuple[str, ...]) -> None:
    result = vigil(*path, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.stdout
    assert "--help" in result.stdout


def test_top_level_help_lists_every_command(vigil: Invoke) -> None:
    names = set(getattr(typer.main.get_command(app), "commands", {}))
    shown = vigil("--help").stdout
    assert names >= {"analytics", "ingest", "serve", "version", "rollup", "sessions"}
    assert [name for name in sorted(names) if name not in shown] == []


def test_constants_spelled_out_for_help_match_their_sources() -> None:
    from vigil.cli.generate import ANOMALY_TYPES
    from vigil.cli.rollup import JOBS
    from vigil.rollup.periods import ROLLUP_JOBS
    from vigil.synth.config import ANOMALY_TYPES as SYNTH_TYPES

    assert JOBS == (*ROLLUP_JOBS, "retention")
    assert ANOMALY_TYPES == SYNTH_TYPES


def test_the_script_ends_quickly_with_the_whole_output(vigil: Invoke, workdir: Path) -> None:
    """After ``--file`` the script skips the interpreter's teardown: the document on stdout,
    the quality line on stderr, a written report and the exit codes are all still there."""
    csv = workdir / "events.csv"
    rows = ["event_id,camera_id,event_type,timestamp,person_id"]
    for n in range(400):
        minute = n % 50
        rows += [f"e{n},cam1,entry,2026-03-02T08:{minute:02d}:00Z,p{n}",
                 f"x{n},cam1,exit,2026-03-02T09:{minute:02d}:00Z,p{n}"]
    rows.append("bad,cam1,entry,not-a-time,p1")
    csv.write_text("\n".join(rows) + "\n", encoding="utf-8")
    in_process = vigil("analytics", "--file", csv, "--json", "-q")
    assert in_process.exit_code == 0, in_process.stderr
    done = subprocess.run([str(VIGIL), "analytics", "--file", str(csv), "--json", "-q"],
                          capture_output=True, text=True, env=clean_env(), timeout=120,
                          cwd=workdir, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == json.loads(in_process.stdout)
    assert json.loads(done.stdout)["kpis"]["sessions"]["complete"] == 400
    assert "800 accepted" in done.stderr and "1 rejected" in done.stderr
    html = workdir / "report.html"
    done = subprocess.run([str(VIGIL), "report", "--file", str(csv), "--html", str(html), "-q"],
                          capture_output=True, text=True, env=clean_env(), timeout=120,
                          cwd=workdir, check=False)
    assert done.returncode == 0, done.stderr
    assert "wrote" in done.stdout and html.read_text(encoding="utf-8").rstrip().endswith(
        "</html>")
    done = subprocess.run([str(VIGIL), "analytics", "--file", str(csv), "--group-by", "nope"],
                          capture_output=True, text=True, env=clean_env(), timeout=120,
                          cwd=workdir, check=False)
    assert done.returncode == 2 and "--group-by" in done.stderr


def test_the_script_gives_arrow_jemalloc_unless_told_otherwise() -> None:
    probe = ("import sys\nfrom vigil.cli.main import main\nsys.argv = ['vigil', 'version']\n"
             "try:\n    main()\nexcept SystemExit:\n    pass\n"
             "import pyarrow\nprint(pyarrow.default_memory_pool().backend_name)")

    def pool(**env: str) -> str:
        done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                              env={**clean_env(), **env}, timeout=60, check=True)
        return done.stdout.splitlines()[-1]

    assert pool() == "jemalloc"
    assert pool(ARROW_DEFAULT_MEMORY_POOL="system") == "system"
