"""The ``labkit`` command line given nonsense: one ``labkit: error:`` line on stderr that names
the bad input and the fix, a non-zero exit, never a traceback, and fast (nothing here gets as
far as Kafka: LABKIT_HOME is an empty folder, so no cluster is found)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import labkit.cli
from labkit.exceptions import UsageError

PARSE, RUN = 2, 1  # exit status of a mistake argparse finds / of one a command finds
BUDGET = float(os.environ.get("LABKIT_CLI_ERROR_BUDGET", "3"))
"""Seconds one failing command may take; measured well under 1 s on an idle machine, the
margin is for a busy CI runner. None of these may start Java or wait for a cluster."""

# (args, extra environment, expected exit status, words the one error line must contain)
CASES: dict[str, tuple[list[str], dict[str, str], int, list[str]]] = {
    "no command": ([], {}, PARSE, ["no command given", "install", "produce", "labkit --help"]),
    "unknown command": (["frobnicate"], {}, PARSE, ["'frobnicate'", "choose from"]),
    "unknown option": (["--frob"], {}, PARSE, ["unrecognized arguments: --frob"]),
    "unknown option of a command": (["status", "--frob"], {}, PARSE,
                                    ["--frob", "labkit status --help"]),
    "extra argument": (["install", "now"], {}, PARSE, ["unrecognized arguments: now"]),
    "nodes 7": (["up", "--nodes", "7"], {}, PARSE, ["--nodes", "7", "1 or 3"]),
    "nodes x": (["up", "--nodes", "x"], {}, PARSE, ["--nodes", "'x'", "1 or 3"]),
    "up unknown option": (["up", "--frob"], {}, PARSE, ["--frob", "labkit up --help"]),
    "logs no node": (["logs"], {}, PARSE, ["required: node"]),
    "logs notanumber": (["logs", "notanumber"], {}, PARSE, ["'notanumber'", "node id"]),
    "logs -5": (["logs", "-5"], {}, PARSE, ["-5", "node id (1 or more)"]),
    "logs 0": (["logs", "0"], {}, PARSE, ["0 is not valid", "node id"]),
    "logs -n -3": (["logs", "1", "-n", "-3"], {}, PARSE, ["--lines", "-3", "1 or more"]),
    "logs -n 0": (["logs", "1", "-n", "0"], {}, PARSE, ["--lines", "0", "1 or more"]),
    "produce nothing": (["produce"], {}, PARSE, ["required", "scenario", "--topic"]),
    "produce unknown scenario": (["produce", "nope", "--topic", "t"], {}, RUN,
                                 ["unknown scenario 'nope'", "pizza"]),
    "produce without topic": (["produce", "pizza"], {}, PARSE, ["required: --topic"]),
    "produce empty topic": (["produce", "pizza", "--topic", ""], {}, PARSE,
                            ["--topic", "empty", "--topic orders"]),
    "produce bad topic": (["produce", "pizza", "--topic", "my topic!"], {}, PARSE,
                          ["'my topic!'", "letters, digits"]),
    "rate -1": (["produce", "pizza", "--topic", "t", "--rate", "-1"], {}, PARSE,
                ["--rate", "-1", "above 0"]),
    "rate 0": (["produce", "pizza", "--topic", "t", "--rate", "0"], {}, PARSE,
               ["--rate", "above 0"]),
    "rate abc": (["produce", "pizza", "--topic", "t", "--rate", "abc"], {}, PARSE,
                 ["--rate", "'abc' is not a number"]),
    "rate nan": (["produce", "pizza", "--topic", "t", "--rate", "nan"], {}, PARSE,
                 ["--rate", "nan"]),
    "rate inf": (["produce", "pizza", "--topic", "t", "--rate", "inf"], {}, PARSE,
                 ["--rate", "inf"]),
    "seconds 0": (["produce", "pizza", "--topic", "t", "--seconds", "0"], {}, PARSE,
                  ["--seconds", "above 0"]),
    "limit -2": (["produce", "pizza", "--topic", "t", "--limit", "-2"], {}, PARSE,
                 ["--limit", "-2", "1 or more"]),
    "limit 1.5": (["produce", "pizza", "--topic", "t", "--limit", "1.5"], {}, PARSE,
                  ["--limit", "'1.5' is not a whole number"]),
    "poison 2": (["produce", "pizza", "--topic", "t", "--poison", "2"], {}, PARSE,
                 ["--poison", "2", "0 to 0.5"]),
    "poison -0.1": (["produce", "pizza", "--topic", "t", "--poison", "-0.1"], {}, PARSE,
                    ["--poison", "0 to 0.5"]),
    "seed x": (["produce", "pizza", "--topic", "t", "--seed", "x"], {}, PARSE,
               ["--seed", "'x' is not a whole number"]),
    "seed -1": (["produce", "pizza", "--topic", "t", "--seed", "-1"], {}, PARSE,
                ["--seed", "-1", "from 0"]),
    "produce without a cluster": (["produce", "pizza", "--topic", "t"], {}, RUN,
                                  ["no lab cluster is running", "labkit up"]),
    "lab port 0": (["lab", "--port", "0"], {}, PARSE, ["--port", "0", "1 to 65535"]),
    "lab port 99999": (["lab", "--port", "99999"], {}, PARSE, ["--port", "99999", "1 to 65535"]),
    "lab port x": (["lab", "--port", "x"], {}, PARSE, ["--port", "'x'"]),
    "lab missing notebooks": (["lab", "--notebooks", "/no/such/dir"], {}, RUN,
                              ["/no/such/dir is not a folder", "--notebooks"]),
    "kafka without a tool": (["kafka"], {}, PARSE, ["no Kafka tool given", "kafka-topics"]),
    "kafka tool without a cluster": (["kafka", "no-such-tool"], {}, RUN,
                                     ["no lab cluster is running", "labkit up"]),
    "kafka --help without a cluster": (["kafka", "kafka-topics", "--help"], {}, RUN,
                                       ["no lab cluster is running"]),
    "down without a cluster": (["down"], {}, RUN, ["no lab cluster is running", "labkit up"]),
    "reset without a cluster": (["reset"], {}, RUN, ["no lab cluster is running", "labkit up"]),
    "logs without a cluster": (["logs", "1"], {}, RUN, ["node 1 has no log yet", "labkit up"]),
    "LABKIT_NODES=5": (["status"], {"LABKIT_NODES": "5"}, RUN, ["LABKIT_NODES=5", "1 to 3"]),
    "LABKIT_NODES=x": (["kafka", "kafka-topics"], {"LABKIT_NODES": "x"}, RUN,
                       ["LABKIT_NODES='x'", "1 to 3"]),
    "LABKIT_TIME_SCALE=abc": (["status"], {"LABKIT_TIME_SCALE": "abc"}, RUN,
                              ["LABKIT_TIME_SCALE='abc'", "0.01 to 100"]),
    "LABKIT_TIME_SCALE=abc produce": (["produce", "pizza", "--topic", "t"],
                                      {"LABKIT_TIME_SCALE": "abc"}, RUN, ["LABKIT_TIME_SCALE"]),
    "LABKIT_BACKEND=nope": (["status"], {"LABKIT_BACKEND": "nope"}, RUN,
                            ["unknown backend 'nope'", "local"]),
    "LABKIT_BACKEND=nope down": (["down"], {"LABKIT_BACKEND": "nope"}, RUN,
                                 ["unknown backend 'nope'"]),
    "LABKIT_BACKEND=nope logs": (["logs", "1"], {"LABKIT_BACKEND": "nope"}, RUN,
                                 ["unknown backend 'nope'"]),
}


@pytest.fixture()
def no_cluster_env(tmp_path: Path) -> dict[str, str]:
    """The environment with LABKIT_HOME an empty folder and no other LABKIT_* variable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABKIT_")}
    env["LABKIT_HOME"] = str(tmp_path / "empty-home")
    return env


def run(args: list[str], env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], float]:
    t0 = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "labkit.cli", *args], capture_output=True,
                         text=True, timeout=60, env=env)
    return out, time.monotonic() - t0


@pytest.mark.parametrize("case", list(CASES))
def test_nonsense_gets_one_error_line(case: str, no_cluster_env: dict[str, str]) -> None:
    args, extra, status, needles = CASES[case]
    assert "up" not in args[:1] or status == PARSE, "never let 'labkit up' run for real here"
    out, took = run(args, {**no_cluster_env, **extra})
    assert "Traceback" not in out.stderr + out.stdout, out.stderr
    assert out.returncode == status, (out.returncode, out.stderr)
    lines = out.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("labkit: error: "), out.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    if status == PARSE:  # argparse's mistakes point at the command's --help
        assert "--help')" in lines[0], lines[0]
    assert took < BUDGET, f"{case}: {took:.2f} s"


def test_status_without_a_cluster_is_an_answer_not_an_error(
        no_cluster_env: dict[str, str]) -> None:
    """``status`` reports "not running" on stdout with exit status 3 (as LSB ``status``
    scripts do, and as test_cli.py expects): that is its answer, not a mistake,
    so there is no error line."""
    out, took = run(["status"], no_cluster_env)
    assert out.returncode == 3 and "no lab cluster is running" in out.stdout, out
    assert out.stderr == "" and took < BUDGET


@pytest.mark.parametrize("args", [["--help"], ["up", "--help"], ["produce", "-h"],
                                  ["kafka", "--help"], ["down", "--purge"]])
def test_what_legitimately_succeeds(args: list[str], no_cluster_env: dict[str, str]) -> None:
    """Help exits 0; ``down --purge`` with nothing running deletes the (empty) data and
    exits 0, as test_cli.py expects."""
    out, _ = run(args, no_cluster_env)
    assert out.returncode == 0 and out.stderr == "", out
    assert "usage: labkit" in out.stdout or "its data was deleted" in out.stdout


def test_an_error_message_with_newlines_stays_one_line(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def multiline(args: object) -> int:
        raise UsageError("first line\nsecond line")

    def crash(args: object) -> int:
        raise RuntimeError("deep\ninside")

    monkeypatch.setattr(labkit.cli, "cmd_reset", multiline)
    assert labkit.cli.main(["reset"]) == 1
    assert capsys.readouterr().err == "labkit: error: first line second line\n"
    monkeypatch.setattr(labkit.cli, "cmd_reset", crash)
    assert labkit.cli.main(["reset"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("labkit: error: RuntimeError: deep inside.") and err.count("\n") == 1


def test_parse_errors_exit_2_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        labkit.cli.main(["logs", "1", "-n", "zero"])
    assert info.value.code == 2
    assert capsys.readouterr().err == (
        "labkit: error: argument -n/--lines: 'zero' is not a whole number; use a number of "
        "lines (1 or more) (see 'labkit logs --help')\n")


def test_good_arguments_still_parse() -> None:
    parse = labkit.cli._parse
    assert vars(parse(["kafka", "kafka-topics", "--create", "--topic", "x"]))["args"] == [
        "--create", "--topic", "x"]
    assert parse(["kafka", "kafka-topics", "--help"]).args == ["--help"]
    assert parse(["logs", "2", "-n", "2"]).lines == 2
    assert parse(["up"]).nodes is None and parse(["up", "--nodes", "1"]).nodes == 1
    p = parse(["produce", "pizza", "--topic", "pizza.orders-1", "--rate", "2.5", "--seconds",
               "0.5", "--limit", "10", "--seed", "0", "--poison", "0"])
    assert (p.rate, p.seconds, p.limit, p.seed, p.poison) == (2.5, 0.5, 10, 0, 0.0)
    assert parse(["lab", "--port", "65535"]).port == 65535
