"""How `leadmesh enrich` shows a job's progress: a rich bar on a terminal (rows done of total,
rate, time left), one plain line per change elsewhere."""

from __future__ import annotations

import io

from cli.progress import RowProgress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_bar_with_rows_rate_and_time_left() -> None:
    screen = Terminal()
    with RowProgress("leads.csv", 200, screen) as progress:
        progress.update(50, 200)
        progress.update(120, 200)
    text = screen.getvalue()
    assert "leads.csv" in text and "120/200" in text and "rows/s" in text
    assert "━" in text  # the bar itself


def test_elsewhere_one_plain_line_per_change() -> None:
    log = io.StringIO()
    with RowProgress("leads.csv", 200, log) as progress:
        for done in (0, 0, 50, 50, 200):
            progress.update(done, 200)
    lines = log.getvalue().splitlines()
    assert [line.split(" rows")[0] for line in lines] == [
        "leads.csv: 0/200",
        "leads.csv: 50/200",
        "leads.csv: 200/200",
    ]
    assert lines[-1].startswith("leads.csv: 200/200 rows (100%), ") and "rows/s" in lines[-1]
    assert "\x1b[" not in log.getvalue()  # no terminal codes in a log
