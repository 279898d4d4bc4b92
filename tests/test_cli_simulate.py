"""``python cli.py simulate-retry``: every option and every exit path, through click's CliRunner."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from cli import cli
from src.simulation import DEFAULT_SCENARIOS, OUTCOMES, RECOVERY_THRESHOLD, ContentionConfig, FleetConfig
from src.utils.retry import ai_retry, file_retry, network_retry

ROOT = Path(__file__).resolve().parents[1]
POLICIES = {"ai": ai_retry, "file": file_retry, "network": network_retry}


def simulate(*args: str, color: bool = False) -> Result:
    return CliRunner().invoke(cli, ["simulate-retry", *args], color=color)


def simulate_json(*args: str) -> dict[str, Any]:
    result = simulate(*args, "--json")
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(result.stdout)
    return document


# --- replaying scenarios ---------------------------------------------------------------------


def test_no_options_replays_every_default_scenario_through_every_policy() -> None:
    result = simulate("--seed", "1")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    headers = [line for line in result.stdout.splitlines() if "  ·  scenario " in line]
    expected = [(name, str(s)) for name, scenarios in DEFAULT_SCENARIOS.items() for s in scenarios]
    assert [(h.split()[0], h.split("scenario ")[1].split()[0]) for h in headers] == expected
    for phrase in (
        "succeeded on attempt 3",
        "gave up after 3 attempts",
        "gave up after 5 attempts",
        "not retried: 400 BadRequestError is permanent",
        "not retried: FileNotFoundError is permanent",
        "retry-after 7s → waited",
        "retry-after 3s → waited",
        "gave up: server asked for 600s > max 10s",
        "gave up: server asked for 60s > max 10s",
    ):
        assert phrase in result.stdout, phrase


def test_json_holds_one_run_per_policy_and_scenario() -> None:
    document = simulate_json("--seed", "3")
    assert document["mode"] == "scenario"
    runs = document["runs"]
    assert len(runs) == sum(len(s) for s in DEFAULT_SCENARIOS.values())
    for run in runs:
        policy = POLICIES[run["policy"]]
        assert run["seed"] == 3
        assert run["result"] in {"success", "gave_up", "not_retried"}
        attempts = run["attempts"]
        assert set(attempts[0]) >= {"attempt", "start", "outcome", "wait"}
        assert [a["attempt"] for a in attempts] == list(range(1, len(attempts) + 1))
        assert attempts[-1]["wait"] is None
        assert 1 <= len(attempts) <= policy.attempts
        for attempt in attempts[:-1]:
            assert policy.wait_min <= attempt["wait"] <= policy.wait_max
            if attempt["retry_after"] is None:
                lo, hi = policy.wait_bounds(attempt["attempt"])
                assert lo <= attempt["wait"] <= hi
            else:
                assert attempt["wait"] >= attempt["retry_after"]
        assert run["total_time"] == pytest.approx(sum(a["wait"] for a in attempts[:-1]))


@pytest.mark.parametrize("policy", ["ai", "file", "network", "AI"])
def test_policy_option_picks_one_policy(policy: str) -> None:
    document = simulate_json("--policy", policy, "--seed", "1")
    assert {run["policy"] for run in document["runs"]} == {policy.lower()}
    assert [run["scenario"] for run in document["runs"]] == [str(s) for s in DEFAULT_SCENARIOS[policy.lower()]]


def test_a_custom_scenario_runs_through_every_policy() -> None:
    document = simulate_json("--scenario", "timeout,permission,ok", "--seed", "2")
    by_policy = {run["policy"]: run for run in document["runs"]}
    assert set(by_policy) == {"ai", "file", "network"}
    assert all(run["scenario"] == "timeout,permission,ok" for run in by_policy.values())
    # PermissionError is transient only for file operations.
    assert (by_policy["file"]["result"], len(by_policy["file"]["attempts"])) == ("success", 3)
    assert (by_policy["ai"]["result"], len(by_policy["ai"]["attempts"])) == ("not_retried", 2)
    assert (by_policy["network"]["result"], len(by_policy["network"]["attempts"])) == ("not_retried", 2)


def test_retry_after_is_honoured_and_a_too_long_one_gives_up_at_once() -> None:
    (honoured,) = simulate_json("--policy", "ai", "--scenario", "ai-ratelimit@7,ok", "--seed", "4")["runs"]
    first = honoured["attempts"][0]
    assert (first["retry_after"], honoured["result"]) == (7.0, "success")
    assert 7.0 <= first["wait"] <= ai_retry.wait_max

    (refused,) = simulate_json("--policy", "ai", "--scenario", "ai-ratelimit@600", "--seed", "4")["runs"]
    assert len(refused["attempts"]) == 1
    assert (refused["result"], refused["retry_after_too_long"], refused["total_time"]) == ("gave_up", 600.0, 0.0)


def test_a_fixed_seed_gives_byte_identical_output() -> None:
    for args in (("--seed", "5"), ("--seed", "5", "--json"), ("--seed", "5", "--runs", "300", "--fail-rate", "0.4")):
        first, second = simulate(*args), simulate(*args)
        assert first.exit_code == second.exit_code == 0
        assert first.stdout_bytes == second.stdout_bytes


def test_different_seeds_give_different_waits() -> None:
    def waits(seed: str) -> list[float]:
        document = simulate_json("--policy", "file", "--scenario", "permission", "--seed", seed)
        return [a["wait"] for a in document["runs"][0]["attempts"][:-1]]

    assert waits("1") != waits("2")


def test_without_a_seed_the_chosen_one_is_reported_and_replays_the_run() -> None:
    document = simulate_json("--policy", "network")
    seeds = {run["seed"] for run in document["runs"]}
    assert len(seeds) == 1
    (seed,) = seeds
    assert isinstance(seed, int)
    assert simulate_json("--policy", "network", "--seed", str(seed)) == document

    text = simulate("--policy", "file").stdout
    assert re.search(r"·  seed \d+$", text.splitlines()[0])


def test_colour_only_when_asked_for_a_terminal() -> None:
    assert "\x1b[" not in simulate("--policy", "ai", "--seed", "1").stdout
    assert "\x1b[" in simulate("--policy", "ai", "--seed", "1", color=True).stdout


# --- Monte Carlo -----------------------------------------------------------------------------


def test_monte_carlo_json_reports_each_policy_next_to_theory() -> None:
    document = simulate_json("--runs", "400", "--fail-rate", "0.5", "--seed", "8")
    assert document["mode"] == "monte_carlo"
    assert [p["policy"] for p in document["policies"]] == ["ai", "file", "network"]
    for summary in document["policies"]:
        attempts = POLICIES[summary["policy"]].attempts
        assert (summary["runs"], summary["fail_rate"], summary["seed"]) == (400, 0.5, 8)
        assert summary["expected_success_rate"] == pytest.approx(1 - 0.5**attempts)
        assert summary["expected_mean_attempts"] == pytest.approx((1 - 0.5**attempts) / 0.5)
        assert abs(summary["success_rate"] - summary["expected_success_rate"]) < 0.1
        assert abs(summary["mean_attempts"] - summary["expected_mean_attempts"]) < 0.3
        assert summary["wait_p50"] <= summary["wait_p95"] <= summary["wait_p99"] <= summary["wait_max"]


def test_monte_carlo_text_and_no_progress_bar_outside_a_terminal() -> None:
    result = simulate("--policy", "network", "--runs", "2500", "--fail-rate", "0.3", "--seed", "1")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0] == "network  ·  3 attempts  ·  2,500 calls at fail rate 0.3  ·  seed 1"
    assert "theory 97.300%" in lines[1]
    assert "theory 1.3900" in lines[2]
    assert re.fullmatch(r"  total wait +p50 [\d.]+s +p95 [\d.]+s +p99 [\d.]+s +max [\d.]+s", lines[3])


@pytest.mark.parametrize("fail_rate", ["0", "1"])
def test_monte_carlo_accepts_the_ends_of_the_range(fail_rate: str) -> None:
    (summary,) = simulate_json("--policy", "ai", "--runs", "20", "--fail-rate", fail_rate, "--seed", "1")["policies"]
    assert summary["success_rate"] == 1 - float(fail_rate)


# --- usage errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--policy", "disk"], "Invalid value for '--policy'"),
        (["--scenario", "bogus"], "unknown outcome 'bogus'"),
        (["--scenario", ""], "empty scenario"),
        (["--scenario", "ok,,ok"], "outcome 2 of 'ok,,ok' is empty"),
        (["--scenario", "timeout@3"], "'timeout' has no HTTP response"),
        (["--scenario", "ai-ratelimit@soon"], "is not a number of seconds"),
        (["--scenario", "ai-ratelimit@-1"], "finite number of seconds >= 0"),
        (["--scenario", "ai-ratelimit@nan"], "finite number of seconds >= 0"),
        (["--scenario", "http-503@inf"], "finite number of seconds >= 0"),
        (["--runs", "0", "--fail-rate", "0.5"], "Invalid value for '--runs'"),
        (["--runs", "10", "--fail-rate", "1.5"], "is not a probability between 0 and 1"),
        (["--runs", "10", "--fail-rate", "-0.1"], "is not a probability between 0 and 1"),
        (["--runs", "10", "--fail-rate", "nan"], "is not a probability between 0 and 1"),
        (["--runs", "10", "--fail-rate", "often"], "Invalid value for '--fail-rate'"),
        (["--runs", "10"], "--runs and --fail-rate go together"),
        (["--fail-rate", "0.5"], "--runs and --fail-rate go together"),
        (["--runs", "10", "--fail-rate", "0.5", "--scenario", "ok"], "can't be combined"),
        (["--seed", "-1"], "Invalid value for '--seed'"),
        (["--seed", "x"], "Invalid value for '--seed'"),
        (["--seed", str(2**53)], "Invalid value for '--seed'"),  # beyond what JSON readers keep exact
        (["--json", "--scenario", "nope"], "unknown outcome 'nope'"),
    ],
)
def test_bad_input_exits_2_with_a_one_line_error(args: list[str], message: str) -> None:
    result = simulate(*args)
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert result.stdout == ""
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1
    assert message in errors[0]


# --- help and import cost --------------------------------------------------------------------


def test_help_documents_every_outcome_and_option() -> None:
    result = simulate("--help")
    assert result.exit_code == 0
    for name in OUTCOMES:
        assert re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", result.stdout), f"{name} missing from --help"
    for option in ("--policy", "--scenario", "--seed", "--runs", "--fail-rate", "--json"):
        assert option in result.stdout
    assert result.stdout.splitlines()[2].strip().startswith("Replay failures through each retry policy")


def _modules_loaded_by(args: list[str]) -> list[str]:
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "import cli\n"
        f"result = CliRunner().invoke(cli.cli, {args!r})\n"
        "assert result.exit_code == 0, result.output\n"
        "print(sorted(m for m in ('anthropic', 'flask', 'httpx2', 'src.simulation') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    loaded: list[str] = json.loads(done.stdout.strip().replace("'", '"'))
    return loaded


def test_command_help_imports_neither_anthropic_nor_flask_nor_the_simulator() -> None:
    assert _modules_loaded_by(["simulate-retry", "--help"]) == []


def test_simulating_the_file_policy_does_not_import_anthropic() -> None:
    assert _modules_loaded_by(["simulate-retry", "--policy", "file", "--seed", "1"]) == ["src.simulation"]


def test_top_level_help_imports_neither_anthropic_nor_flask() -> None:
    if not (ROOT / "src" / "cli" / "check_errors.py").exists():
        pytest.skip("cli.py --help also loads src/cli/check_errors.py, which is not written yet")
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "cli.py", "--help"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert "simulate-retry" in done.stdout
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if "|" in line}
    assert not {"anthropic", "flask"} & imported


# --- fleet and jitter comparison -------------------------------------------------------------

SMALL_FLEET = ("--clients", "10", "--duration", "40", "--seed", "1")


def test_fleet_text_has_a_header_and_a_table_per_policy() -> None:
    result = simulate(*SMALL_FLEET)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0].startswith("fleet  ·  10 clients × 0.1 requests/s for 40s  ·  upstream serves 1 at once")
    assert lines[0].endswith("·  outage 10–20s  ·  seed 1")
    headers = [line for line in lines if re.match(r"\w+  ·  \d+ attempts", line)]
    assert headers == [
        "ai  ·  3 attempts, waits 4–10s",
        "file  ·  5 attempts, waits 1–5s",
        "network  ·  3 attempts, waits 1–10s",
    ]
    for row in (
        "upstream calls",
        "amplification",
        "success rate",
        "latency p50",
        "latency p99",
        "recovery after outage",
    ):
        assert sum(line.lstrip().startswith(row) for line in lines) == 3, row


def test_fleet_json_with_the_default_sizes_holds_consistent_figures() -> None:
    document = simulate_json("--clients", "50", "--duration", "120", "--policy", "network", "--seed", "1")
    assert document["mode"] == "fleet"
    config = document["config"]
    assert (config["clients"], config["duration"], config["capacity"], config["seed"]) == (50, 120.0, 5, 1)
    assert config["outage"] == {"start": 30.0, "end": 60.0}
    assert [(run["policy"], run["guarded"]) for run in document["runs"]] == [("network", False), ("network", True)]
    for run in document["runs"]:
        assert run["successes"] + run["failures"] + run["refusals"] == run["requests"]
        assert run["upstream_calls"] == run["served"] + run["timed_out"] + run["down"]
        assert run["served"] == run["successes"]
        assert run["amplification"] == pytest.approx(run["upstream_calls"] / run["requests"])
        assert run["latency_p50"] <= run["latency_p99"]
        assert sum(second["calls"] for second in run["timeline"]) == run["upstream_calls"]
        assert sum(second["arrivals"] for second in run["timeline"]) == run["requests"]
    plain, guarded = document["runs"]
    assert plain["requests"] == guarded["requests"]
    assert guarded["upstream_calls"] < plain["upstream_calls"]
    assert guarded["refusals"] > 0 == plain["refusals"]


@pytest.mark.parametrize(
    "args",
    [["--clients", "5"], ["--duration", "30"], ["--outage", "none"], ["--capacity", "20"], ["--outage", "5:10"]],
)
def test_any_fleet_option_switches_to_the_fleet(args: list[str]) -> None:
    document = simulate_json(*args, "--policy", "network", "--seed", "2")
    assert document["mode"] == "fleet"
    assert len(document["runs"]) == 2


def test_fleet_options_are_honoured() -> None:
    document = simulate_json(
        "--clients", "8", "--duration", "30", "--outage", "10:12.5", "--capacity", "3", "--seed", "4"
    )
    config = document["config"]
    assert (config["clients"], config["duration"], config["capacity"]) == (8, 30.0, 3)
    assert config["outage"] == {"start": 10.0, "end": 12.5}
    no_outage = simulate_json("--clients", "8", "--duration", "30", "--outage", "none", "--seed", "4")
    assert no_outage["config"]["outage"] is None
    assert {run["recovery"] for run in no_outage["runs"]} == {None}
    assert {run["down"] for run in no_outage["runs"]} == {0}


def test_compare_jitter_prints_a_row_per_strategy_and_jitter_wins() -> None:
    result = simulate("--compare-jitter", "--seed", "1")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("jitter under contention  ·  50 clients at once  ·  upstream serves 3 at once")
    assert [line.split()[0] for line in lines[2:]] == ["none", "full", "equal", "decorrelated", "window"]

    document = simulate_json("--compare-jitter", "--seed", "1")
    assert document["mode"] == "jitter"
    calls = {run["jitter"]: run["calls"] for run in document["runs"]}
    finished = {run["jitter"]: run["finished"] for run in document["runs"]}
    for jitter in ("full", "decorrelated"):
        assert calls[jitter] < 0.8 * calls["none"]
        assert finished[jitter] < 0.25 * finished["none"]


def test_compare_jitter_takes_clients_and_capacity() -> None:
    document = simulate_json("--compare-jitter", "--clients", "12", "--capacity", "2", "--seed", "3")
    assert (document["config"]["clients"], document["config"]["capacity"]) == (12, 2)
    assert {run["clients"] for run in document["runs"]} == {12}


@pytest.mark.parametrize("args", [SMALL_FLEET, ("--compare-jitter", "--clients", "20", "--seed", "1")])
def test_fleet_and_jitter_runs_are_byte_identical_for_a_seed(args: tuple[str, ...]) -> None:
    for extra in ((), ("--json",)):
        first, second = simulate(*args, *extra), simulate(*args, *extra)
        assert first.exit_code == second.exit_code == 0
        assert first.stdout_bytes == second.stdout_bytes


def test_a_fleet_without_a_seed_reports_the_one_it_picked() -> None:
    document = simulate_json("--clients", "5", "--duration", "20", "--policy", "file")
    seed = document["config"]["seed"]
    assert isinstance(seed, int)
    assert simulate_json("--clients", "5", "--duration", "20", "--policy", "file", "--seed", str(seed)) == document


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--clients", "0"], "Invalid value for '--clients'"),
        (["--clients", "10001"], "clients must be an integer from 1 to 10,000"),
        (["--duration", "0"], "is not a number of seconds above 0"),
        (["--duration", "-5"], "is not a number of seconds above 0"),
        (["--duration", "nan"], "is not a number of seconds above 0"),
        (["--duration", "soon"], "Invalid value for '--duration'"),
        (["--duration", "3601"], "at most 3600s"),
        (["--outage", "30"], "is not START:END in seconds"),
        (["--outage", "a:b"], "is not START:END in seconds"),
        (["--outage", "60:30"], "must start at 0 or later and end after it starts"),
        (["--outage", "-1:3"], "must start at 0 or later"),
        (["--outage", "30:inf"], "is not START:END in seconds"),
        (["--duration", "50", "--outage", "30:60"], "must end within the run's 50s"),
        (["--capacity", "0"], "Invalid value for '--capacity'"),
        (["--clients", "10000", "--duration", "3600"], "at most 5,000 are allowed"),
        (["--clients", "5", "--scenario", "ok"], "--scenario can't be combined with the fleet options"),
        (["--duration", "30", "--runs", "10", "--fail-rate", "0.5"], "--runs/--fail-rate can't be combined"),
        (["--compare-jitter", "--scenario", "ok"], "--scenario can't be combined with --compare-jitter"),
        (["--compare-jitter", "--duration", "30"], "--duration has no meaning with --compare-jitter"),
        (["--compare-jitter", "--outage", "1:2"], "--outage has no meaning with --compare-jitter"),
        (["--compare-jitter", "--policy", "ai"], "--policy has no meaning with --compare-jitter"),
        (["--compare-jitter", "--clients", "1001"], "from 1 to 1,000 to compare jitter"),
    ],
)
def test_bad_fleet_input_exits_2_with_a_one_line_error(args: list[str], message: str) -> None:
    result = simulate(*args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1
    assert message in errors[0]


def test_help_documents_the_fleet_and_the_jitter_comparison() -> None:
    text = simulate("--help").stdout
    for option in ("--clients", "--duration", "--outage", "--capacity", "--compare-jitter"):
        assert option in text
    fleet, contention = FleetConfig.standard(), ContentionConfig.standard()
    for phrase in (
        "amplification",
        "recovery",
        "decorrelated",
        '"mode": "fleet"',
        '"mode": "jitter"',
        f"{fleet.rate:g} per second on average",
        f"C attempts at once, {fleet.service_time:g} s each",
        f"gives up on an attempt after {fleet.timeout:g} s",
        f"succeed at {RECOVERY_THRESHOLD:.0%} or better",
        f"{contention.service_time:g} s each, with no queue",
        f"{contention.attempts} attempts, waits from {contention.wait_min:g} s up to {contention.wait_max:g} s",
    ):
        assert phrase in " ".join(text.split()), phrase


def test_the_fleet_and_the_jitter_comparison_do_not_import_anthropic_or_flask() -> None:
    assert _modules_loaded_by(["simulate-retry", "--clients", "3", "--duration", "10", "--seed", "1"]) == [
        "src.simulation"
    ]
    assert _modules_loaded_by(["simulate-retry", "--compare-jitter", "--clients", "5", "--seed", "1"]) == [
        "src.simulation"
    ]
