"""Runs one benchmark on two git revisions alternately and prints the median of every figure and
their ratio: the check before landing anything on the hot path.

    .venv/bin/python benchmarks/compare.py BASE [NEW] [--rounds 3] [--script lead_api.py]
        [--script-from REV] [-- ARGS FOR THE BENCHMARK]

NEW defaults to ``.``, the working tree as it is (uncommitted changes included). Any other
revision is checked out in a temporary worktree, so the checkout you work in is never touched. The
rounds alternate the order (A B, B A, A B ...) so that the machine's drift weighs on both alike.

Each revision runs its own benchmark script by default. A script says what it measures on a line
``method: ...``; when the two revisions' lines differ the figures are not comparable and this
says so loudly. ``--script-from REV`` runs that revision's ``benchmarks/`` on both instead, so the
same method measures both revisions' code.

Figures are read from the benchmark's output without knowing its format: a line is a template
(its text with the numbers taken out) and its numbers are figures. A number that is the same in
every run (``32 clients``) is part of the label; the others are compared, named by the label and
the words beside them (``POST /v1/enrich/lead, 32 clients: p99 ms``). Lines that are JSON logs
are skipped.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NUMBER = re.compile(r"(?<![\w.])-?\d+(?:,\d{3})*(?:\.\d+)?(?![\w.])")
UNIT = re.compile(r"^\s*([A-Za-z%µ][\w/%µ]*)")


def say(text: str) -> None:
    print(text, flush=True)  # noqa: T201


@dataclass
class Run:
    """The figures of one run: template -> the numbers in it (each time the template occurs)."""

    lines: dict[str, list[float]] = field(default_factory=dict)
    method: list[str] = field(default_factory=list)


def parse(output: str) -> Run:
    run = Run()
    for line in output.splitlines():
        text = line.rstrip()
        if not text.strip() or text.lstrip().startswith("{"):
            continue
        if text.startswith("method:"):
            run.method.append(text)
            continue
        numbers = [float(match.group().replace(",", "")) for match in NUMBER.finditer(text)]
        if not numbers:
            continue
        template = " ".join(NUMBER.sub("#", text).split())  # padding differs with the numbers' widths
        occurrence = sum(key.rsplit("@", 1)[0] == template for key in run.lines)
        run.lines[f"{template}@{occurrence}"] = numbers
    return run


def figure_names(template: str, first: int, values: list[float]) -> dict[int, str]:
    """A name per number from the ``first`` varying one on: the line's label and the words between
    the previous number (and its unit) and this one, plus the unit after it."""
    pieces = template.split("#")
    label = pieces[0]
    for index in range(first):
        label += f"{values[index]:g}" + pieces[index + 1]
    label, _, lead = label.rpartition(":") if ":" in pieces[first] else (label, "", "")
    label = " ".join(label.split()).rstrip(" ,;")
    names: dict[int, str] = {}
    for index in range(first, len(values)):
        before = lead if index == first else pieces[index]
        if index > first and (previous_unit := UNIT.match(before)):
            before = before[previous_unit.end() :]
        before = " ".join(before.replace(",", " ").replace(";", " ").split()).strip(" :")
        unit_match = UNIT.match(pieces[index + 1])
        unit = unit_match.group(1) if unit_match else ""
        names[index] = f"{label}: {' '.join(part for part in (before, unit) if part)}".rstrip(": ")
    return names


def compare(
    runs: dict[str, list[Run]], labels: tuple[str, str]
) -> list[tuple[str, float | None, float | None]]:
    """(figure, median of A, median of B) for every figure in either revision's output. A line's
    figures are the numbers after its first ``": "`` when it has numbers there (``CPU ms per lead
    at 32 clients: enrichment 2.7, store 2.0``), else those from the first that varies between
    runs; figures are matched by name, so a list printed in another order still lines up."""
    templates = sorted({key for side in runs.values() for run in side for key in run.lines}, key=_order(runs))
    values: dict[str, dict[str, list[float]]] = {}
    for key in templates:
        template = key.rsplit("@", 1)[0]
        samples = [run.lines[key] for side in labels for run in runs[side] if key in run.lines]
        width = min(len(numbers) for numbers in samples)
        head, colon, tail = template.partition(": ")
        if colon and "#" in tail:
            first = head.count("#")
        else:
            varying = [i for i in range(width) if any(s[i] != samples[0][i] for s in samples)]
            if not varying:
                continue
            first = varying[0]
        names = figure_names(template, first, samples[0][:width])
        for side in labels:
            for run in runs[side]:
                if key in run.lines:
                    for index in range(first, width):
                        values.setdefault(names[index], {}).setdefault(side, []).append(run.lines[key][index])
    medians = {
        name: [statistics.median(got[side]) if side in got else None for side in labels]
        for name, got in values.items()
    }
    return [(name, a, b) for name, (a, b) in medians.items()]


def _order(runs: dict[str, list[Run]]) -> object:
    """Templates in the order the first run printed them."""
    seen: dict[str, int] = {}
    for side in runs.values():
        for run in side:
            for key in run.lines:
                seen.setdefault(key, len(seen))
    return lambda key: seen[key]


def checkout(rev: str, into: Path) -> tuple[Path, str]:
    """A worktree of ``rev`` under ``into`` (``.`` is the working tree itself), and its short id."""
    if rev == ".":
        short = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "-uno"], capture_output=True, text=True
        )
        return ROOT, short + ("+changes" if dirty.stdout.strip() else "")
    short = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", rev], capture_output=True, text=True, check=True
    ).stdout.strip()
    path = into / short
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(path), rev],
        check=True,
    )
    return path, short


def run_once(tree: Path, script: str, args: list[str], timeout: float) -> str:
    env = {
        **_environ(),
        "PYTHONPATH": f"{tree}:{tree / 'proto'}",
    }
    done = subprocess.run(
        [sys.executable, str(tree / "benchmarks" / script), *args],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise SystemExit(
            f"{script} failed in {tree} (exit {done.returncode}):\n"
            f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
    return done.stdout


def _environ() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("base", help="revision A (e.g. main, a commit)")
    parser.add_argument("new", nargs="?", default=".", help="revision B (default: the working tree as it is)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each revision (default 3)")
    parser.add_argument(
        "--script", default="lead_api.py", help="benchmark in benchmarks/ (default lead_api.py)"
    )
    parser.add_argument("--script-from", help="run this revision's benchmarks/ on both revisions")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds one run may take")
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    options = parser.parse_args(argv[:split])
    args = argv[split + 1 :]

    # Killed, it still removes its worktrees (the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    scratch = Path(tempfile.mkdtemp(prefix="leadmesh-compare-"))
    trees: dict[str, Path] = {}
    try:
        for rev in (options.base, options.new):
            tree, short = checkout(rev, scratch)
            label = short if short not in trees else f"{short} ({rev})"
            trees[label] = tree
        if options.script_from:
            source, short = checkout(options.script_from, scratch / "script")
            for tree in trees.values():
                if tree == ROOT:
                    raise SystemExit(
                        "--script-from needs two committed revisions (the working tree is not copied over)"
                    )
                shutil.rmtree(tree / "benchmarks")
                shutil.copytree(source / "benchmarks", tree / "benchmarks")
            say(f"benchmark script from {short} on both revisions")
        labels = (list(trees)[0], list(trees)[1])
        runs: dict[str, list[Run]] = {label: [] for label in labels}
        for round_number in range(options.rounds):
            order = labels if round_number % 2 == 0 else labels[::-1]
            for label in order:
                say(f"round {round_number + 1}/{options.rounds}: {label} ({options.script} {' '.join(args)})")
                runs[label].append(parse(run_once(trees[label], options.script, args, options.timeout)))
        report(runs, labels)
    finally:
        for tree in trees.values():
            if tree != ROOT:
                subprocess.run(
                    ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False
                )
        if options.script_from:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(scratch / "script" / short)],
                check=False,
            )
        shutil.rmtree(scratch, ignore_errors=True)
        subprocess.run(["git", "-C", str(ROOT), "worktree", "prune"], check=False)


def report(runs: dict[str, list[Run]], labels: tuple[str, str]) -> None:
    methods = {label: sorted({line for run in runs[label] for line in run.method}) for label in labels}
    say("")
    if methods[labels[0]] != methods[labels[1]]:
        say("!! the two benchmark scripts measure differently; figures below are NOT comparable:")
        for label in labels:
            say(f"!!   {label}: {'; '.join(methods[label]) or '(no method line: an older script)'}")
        say("!! rerun with --script-from to measure both revisions the same way")
    else:
        say("; ".join(methods[labels[0]]) or "(no method line)")
    rows = compare(runs, labels)
    width = max([len(name) for name, _, _ in rows] + [20])
    heading = f"median of {len(runs[labels[0]])} runs"
    say(f"{heading:{width}}  {labels[0]:>12}  {labels[1]:>12}  {'B/A':>6}")
    for name, a, b in rows:
        ratio = f"{b / a:6.2f}" if a and b is not None else "     -"
        say(f"{name:{width}}  {_fmt(a):>12}  {_fmt(b):>12}  {ratio}")


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


if __name__ == "__main__":
    main()
