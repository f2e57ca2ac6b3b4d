"""Command-line forms of prune and take-over: a bare or malformed --take-over is a usage error (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from acr_refresh.cli import main
from tests.conftest import acr_generator, write_config


@pytest.mark.parametrize("argv", [["--take-over"], ["--take-over", "only-a-name"], ["--take-over", "a/b/c/d"],
                                  ["--take-over", "NS/Upper"], ["--prune-max-delete", "-1"]])
def test_malformed_options_exit_2(tmp_path: Path, argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(tmp_path, acr_generator())
    assert main(["run", "--config", str(path), *argv]) == 2


def test_take_over_from_the_environment_is_a_list(tmp_path: Path) -> None:
    path = write_config(tmp_path, acr_generator())
    assert main(["run", "--config", str(path), "--dry-run"], environ={"ACR_REFRESH_TAKE_OVER": "x/y,,bad"}) == 2
