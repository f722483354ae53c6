"""What a cocotb run produced: per-test outcomes from its xUnit results file, and the errors we raise."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

__all__ = ["BuildFailed", "CaseResult", "SimRun", "SimulationFailed", "parse_results"]


class BuildFailed(RuntimeError):
    """Verilator or the C++ compiler failed; the message ends with the tail of the build log."""


class SimulationFailed(AssertionError):
    """A cocotb test failed, or the simulator ended without results; the message says which and why."""


@dataclass(frozen=True)
class CaseResult:
    """One cocotb test: `status` is "passed", "failed", "error" or "skipped"."""

    name: str
    module: str
    status: str
    message: str
    seconds: float
    sim_time_ns: float

    @property
    def passed(self) -> bool:
        return self.status == "passed"


@dataclass(frozen=True)
class SimRun:
    """A finished simulation: its test results and where its files are."""

    tests: list[CaseResult]
    workdir: Path
    log: Path
    waves: Path | None

    @property
    def passed(self) -> bool:
        return bool(self.tests) and all(t.status in ("passed", "skipped") for t in self.tests)


def parse_results(path: Path) -> list[CaseResult]:
    """The test cases of a cocotb xUnit results file."""
    cases = []
    for case in ElementTree.parse(path).getroot().iter("testcase"):
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        status, message = "passed", ""
        for tag, outcome in (("failure", "failed"), ("error", "error"), ("skipped", "skipped")):
            if (node := case.find(tag)) is not None:
                status = outcome
                message = node.get("message") or (node.text or "").strip()
        cases.append(CaseResult(
            name=case.get("name", "?"),
            module=case.get("classname", ""),
            status=status,
            message=message,
            seconds=float(case.get("time", 0.0)),
            sim_time_ns=float(props.get("sim_time_duration") or 0.0),
        ))
    return cases


def failure_report(run: SimRun, exit_code: int, error: str = "", log_lines: int = 40) -> str:
    """A message naming the failed tests and their reasons, with the tail of the log."""
    bad = [t for t in run.tests if t.status in ("failed", "error")]
    if run.tests:
        head = f"{len(bad)} of {len(run.tests)} cocotb tests failed (simulator exit code {exit_code}):"
    else:
        head = f"the simulator exited with code {exit_code} and wrote no results: {error}"
    lines = [head, *(f"  {t.module}.{t.name}: {t.status}: {t.message}" for t in bad)]
    tail = run.log.read_text(errors="replace").splitlines()[-log_lines:] if run.log.is_file() else ["(no log)"]
    lines += [f"log {run.log} (last {len(tail)} lines):", *tail]
    return "\n".join(lines)
