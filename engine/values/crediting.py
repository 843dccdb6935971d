"""Which year's run credits an event (结转): the one rule the snapshot's reading and the engine's
timing both follow, so that an event counts in exactly one year or says why it counts in none.

A year's cut-off (截止日期) closes its work year for honours. An honour documented by its work
year's cut-off counts in that year's run; one documented after it carries over to the next
year's run, if documented by that year's cut-off; one documented later still counts nowhere. An
event without a document date counts in its work year. Incidents always count in their work year
(``effects.event_counts``); this rule is about when an honour's document arrived.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

IN_YEAR = "in_year"  # this year's work, documented by this year's cut-off
AFTER_CUTOFF = "after_cutoff"  # this year's work, documented after the cut-off: next year's
CARRIED_OVER = "carried_over"  # last year's work, documented between the two cut-offs: this year's
TOO_LATE = "too_late"  # last year's work, documented after this year's cut-off: no year's
EARLIER = "earlier"  # an earlier year's business
LATER = "later"  # a later year's business


class PriorCutoffUnknown(ValueError):
    """Last year's cut-off decides the event, and it is not known: never guessed."""


@dataclass(frozen=True, slots=True)
class Crediting:
    """Where an event stands for one year's run. ``year`` is the year whose run credits the event
    as far as this run can tell (for ``after_cutoff``: next year's, if documented by its
    cut-off); None when no year's run does, or when this run cannot tell (``earlier`` by more
    than a year, ``later``)."""

    timing: str
    year: int | None

    @property
    def here(self) -> bool:
        """This run credits the honour."""
        return self.timing in (IN_YEAR, CARRIED_OVER)


def crediting(
    year: int, cutoff: dt.date, prior_cutoff: dt.date | None, work_year: int, document_date: dt.date | None
) -> Crediting:
    """The event's standing in ``year``'s run, whose cut-off is ``cutoff`` and whose previous
    year's cut-off is ``prior_cutoff`` (needed only for last year's work with a document date:
    :class:`PriorCutoffUnknown` when it is None)."""
    doc = document_date
    if work_year == year:
        if doc is None or doc <= cutoff:
            return Crediting(IN_YEAR, year)
        return Crediting(AFTER_CUTOFF, year + 1)
    if work_year == year - 1 and doc is not None:
        if prior_cutoff is None:
            raise PriorCutoffUnknown(
                f"work year {work_year}, documented {doc.isoformat()}: whether it counts in {work_year} or "
                f"carries over to {year} depends on {work_year}'s cut-off, which is not known"
            )
        if doc <= prior_cutoff:
            return Crediting(EARLIER, work_year)
        if doc <= cutoff:
            return Crediting(CARRIED_OVER, year)
        return Crediting(TOO_LATE, None)
    if work_year == year - 1:
        return Crediting(EARLIER, work_year)
    return Crediting(EARLIER if work_year < year else LATER, None)


def needs_prior_cutoff(year: int, work_year: int, document_date: dt.date | None) -> bool:
    """Whether last year's cut-off decides the event in ``year``'s run."""
    return work_year == year - 1 and document_date is not None


def read_from_previous_year(
    year: int, cutoff: dt.date, prior_cutoff: dt.date, work_year: int, document_date: dt.date | None
) -> bool:
    """Whether ``year``'s run reads an event registered in the previous year's scheme: the ones
    that year's own run did not credit for its cut-off (last year's work documented after it),
    so that this run credits them (carried over) or says why not (too late). Every event of the
    run's own scheme is read (a period run: those dated by the period's end)."""
    if not needs_prior_cutoff(year, work_year, document_date):
        return False
    return crediting(year, cutoff, prior_cutoff, work_year, document_date).timing in (CARRIED_OVER, TOO_LATE)
