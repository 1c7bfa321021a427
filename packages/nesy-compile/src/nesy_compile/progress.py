"""Progress and the time budget of a compilation: a counter on stderr and one deadline.

Compiling a large program (grounding, SDD compilation, reading the SDDs back, rewriting) can
take minutes. Each stage opens a :class:`Meter`: a tqdm bar on stderr, shown when asked for or,
by default in the ``nesy`` commands, when stderr is a terminal; and the :class:`Deadline` of the
whole compilation, checked as the stage advances, so that one time budget covers grounding as
well as knowledge compilation. tqdm is imported only when a bar is shown.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from nesy_ir.errors import NesyError


class CompileBudgetError(NesyError):
    """Compilation (grounding included) ran past its time or size budget."""


class Deadline:
    """A time budget of ``seconds`` (None: no limit), started when the deadline is made."""

    def __init__(self, seconds: float | None = None):
        if seconds is not None and seconds < 0:
            raise NesyError(f"a time budget must be at least 0 s, not {seconds}")
        self.seconds = seconds
        self.start = time.perf_counter()

    @classmethod
    def of(cls, budget: float | Deadline | None) -> Deadline:
        """``budget`` itself when it is a Deadline (a budget already running), else a new one."""
        return budget if isinstance(budget, Deadline) else cls(budget)

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def check(self, stage: str) -> None:
        """Raise :class:`CompileBudgetError`, naming ``stage``, once the budget is spent."""
        if self.seconds is not None and (elapsed := self.elapsed()) > self.seconds:
            raise CompileBudgetError(
                f"compilation exceeded its time budget of {self.seconds:g} s"
                f" ({elapsed:.2f} s spent; stage: {stage})"
            )


class Meter:
    """One stage of a compilation: counts its steps on a progress bar and checks the deadline
    every ``every`` steps (and on :meth:`check`).

    ``progress``: True shows the bar, False hides it, None shows it when stderr is a terminal.
    """

    def __init__(
        self,
        stage: str,
        deadline: Deadline | None = None,
        progress: bool | None = False,
        total: int | None = None,
        unit: str = "it",
        every: int = 1,
    ):
        self.stage, self.deadline, self.every = stage, deadline, max(1, every)
        self._steps, self._next_check = 0, self.every
        self._bar: Any = None
        if progress or (progress is None and sys.stderr.isatty()):
            from tqdm import tqdm

            self._bar = tqdm(
                desc=stage, total=total, unit=unit, file=sys.stderr, leave=False, mininterval=0.5
            )
        self.check()

    def step(self, n: int = 1) -> None:
        """``n`` more steps done."""
        self._steps += n
        if self._bar is not None:
            self._bar.update(n)
        if self._steps >= self._next_check:
            self._next_check = self._steps + self.every
            self.check()

    def set_total(self, total: int) -> None:
        """The number of steps the stage will take, once known."""
        if self._bar is not None:
            self._bar.total = total
            self._bar.refresh()

    def check(self) -> None:
        """Raise :class:`CompileBudgetError` if the deadline has passed."""
        if self.deadline is not None:
            self.deadline.check(self.stage)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Meter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
