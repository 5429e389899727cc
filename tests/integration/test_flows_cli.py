"""`hotline flows check`, `graph` and `burden`, run the way a flow editor runs them."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from hotline.cli import main

BROKEN = """\
name: broken
start: main
agent: agent
give_up: bye
prompts: {no_input: "ไม่ได้ยินค่ะ", invalid: "กดไม่ถูกต้องค่ะ", to_agent: "โอนสายค่ะ"}
nodes:
  main: {kind: menu, say: "กด 1 ค่ะ {nope}", options: {"1": nowhere}}
  agent: {kind: enqueue, say: "รอค่ะ", queue: agents}
  bye: {kind: hangup, say: "ลาก่อนค่ะ"}
"""


@pytest.fixture
def cli(tmp_path: Path) -> CliRunner:
    return CliRunner(env={"INSTANCE_DIR": str(tmp_path), "IVR_FLOW": None, "HOTLINE_ENV": None})


def write(tmp_path: Path, text: str, name: str = "flow.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_check_the_bundled_flow_by_default(cli: CliRunner) -> None:
    result = cli.invoke(main, ["flows", "check"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("1567.yaml: ok (") and "nodes)" in result.output


def test_check_a_bundled_flow_by_name(cli: CliRunner) -> None:
    result = cli.invoke(main, ["flows", "check", "1567"])
    assert result.exit_code == 0, result.output


def test_check_reports_every_issue_and_fails(cli: CliRunner, tmp_path: Path) -> None:
    result = cli.invoke(main, ["flows", "check", str(write(tmp_path, BROKEN))])
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "flow.yaml: node 'main', field 'options.1': names node 'nowhere', which does not exist",
        "flow.yaml: node 'main', field 'say': uses {nope}, which the flow never provides",
    ]


def test_check_follows_the_ivr_flow_setting(cli: CliRunner, tmp_path: Path) -> None:
    path = write(tmp_path, BROKEN)
    result = cli.invoke(main, ["flows", "check"], env={"IVR_FLOW": str(path)})
    assert result.exit_code == 1 and "names node 'nowhere'" in result.output


def test_check_reads_an_edited_file_afresh(cli: CliRunner, tmp_path: Path) -> None:
    path = write(tmp_path, BROKEN)
    assert cli.invoke(main, ["flows", "check", str(path)]).exit_code == 1
    path.write_text(BROKEN.replace("nowhere", "bye").replace(" {nope}", ""), encoding="utf-8")
    result = cli.invoke(main, ["flows", "check", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output == "flow.yaml: ok (3 nodes)\n"


def test_check_shows_schema_errors(cli: CliRunner, tmp_path: Path) -> None:
    path = write(tmp_path, BROKEN.replace("kind: menu", "kind: menuu"))
    result = cli.invoke(main, ["flows", "check", str(path)])
    assert result.exit_code == 1
    assert result.output.startswith("flow.yaml: node 'main', field 'kind': must be one of")
    assert "Traceback" not in result.output


@pytest.mark.parametrize("name", ["missing.yaml", "no-such-flow"])
def test_check_a_missing_flow(cli: CliRunner, tmp_path: Path, name: str) -> None:
    result = cli.invoke(main, ["flows", "check", str(tmp_path / name)])
    assert result.exit_code == 1
    assert "cannot read the file" in result.output


def test_check_with_broken_settings(cli: CliRunner) -> None:
    result = cli.invoke(main, ["flows", "check"], env={"HOTLINE_ENV": "staging"})
    assert result.exit_code == 1
    assert "configuration error: HOTLINE_ENV" in result.output


def test_graph_to_a_file(cli: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "1567.mmd"
    result = cli.invoke(main, ["flows", "graph", "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert text.startswith("flowchart TD\n")
    assert 'n_main_menu{"main_menu (menu)"}' in text


def test_graph_to_stdout(cli: CliRunner, tmp_path: Path) -> None:
    path = write(tmp_path, BROKEN)
    result = cli.invoke(main, ["flows", "graph", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("flowchart TD\n")
    assert '    n_main -->|"1"| n_nowhere' in result.stdout


def test_graph_of_a_broken_file_fails(cli: CliRunner, tmp_path: Path) -> None:
    result = cli.invoke(main, ["flows", "graph", str(write(tmp_path, "- not a flow\n"))])
    assert result.exit_code == 1
    assert "flow.yaml: the file must hold a mapping" in result.output


def test_burden_prints_a_row_per_goal_of_the_bundled_flow(cli: CliRunner) -> None:
    result = cli.invoke(main, ["flows", "burden"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("1567.yaml: caller burden")
    for goal in ("| complaint | office hours |", "| follow-up |", "| information |",
                 "| a person | office hours |", "| a person | after hours |"):  # fmt: skip
        assert goal in result.output


def test_burden_of_a_broken_file_shows_the_schema_error(cli: CliRunner, tmp_path: Path) -> None:
    result = cli.invoke(main, ["flows", "burden", str(write(tmp_path, "name: x\n"))])
    assert result.exit_code == 1
    assert "flow.yaml" in result.output
