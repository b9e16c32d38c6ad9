"""Representative days of the profile year (2016: 366 days) for an annual assessment.

Owns: the daily profiles of a scenario's grid (total load and renewable generation per
quarter-hour, ``grids.sources.window_profiles``), and the choice of representative days:
the day with the largest absolute net injection (|renewables - load|, the stress day) is
kept with weight 1, and the other 365 days are clustered by k-medoids on their features
(hourly load and renewables, each divided by its annual maximum, and a weekend flag
weighted 2; Euclidean distance). Each medoid represents its cluster: its weight is the
number of days in it, so the weights sum to 366. Deterministic (no random start: the first
medoid is the overall medoid, each next one the day farthest from those chosen). Must not:
run models.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pandapower.auxiliary import pandapowerNet

#: days of the simbench profile year (2016, a leap year)
YEAR_DAYS = 366
#: weekday of 1 January 2016 (Monday = 0): a Friday
FIRST_WEEKDAY = 4
#: weight of the weekend flag among the 48 hourly features
WEEKEND_WEIGHT = 2.0
SEASONS: tuple[str, ...] = ("winter", "winter", "spring", "spring", "spring", "summer")
SEASONS += ("summer", "summer", "autumn", "autumn", "autumn", "winter")


@dataclass(frozen=True)
class RepresentativeDay:
    """One chosen day of 2016 (0 = 1 January), the days it stands for and why."""

    day: int
    weight: int
    label: str


def weekend(day: int) -> bool:
    """Whether ``day`` of 2016 is a Saturday or a Sunday."""
    return (day + FIRST_WEEKDAY) % 7 >= 5


def label(day: int) -> str:
    """Season and day type of ``day`` of 2016, e.g. 'summer weekday 2016-08-12'."""
    date = np.datetime64("2016-01-01") + np.timedelta64(day, "D")
    month = int(str(date)[5:7])
    kind = "weekend" if weekend(day) else "weekday"
    return f"{SEASONS[month - 1]} {kind} {date}"


def daily_profiles(
    grid: str,
    renewable_scale: float = 1.0,
    load_scale: float = 1.0,
    net: pandapowerNet | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(366, 96) total load and total renewable generation (MW) of ``grid`` per day, or of
    ``net`` where given (a transmission case with its feeders attached)."""
    from tsodso.grids.sources import load_net, window_profiles

    net = load_net(grid) if net is None else net
    prof = window_profiles(net, 0, 0, YEAR_DAYS * 96)
    load = prof.load_p_mw.to_numpy().sum(axis=1).reshape(YEAR_DAYS, 96) * load_scale
    res = prof.sgen_p_mw.to_numpy().sum(axis=1).reshape(YEAR_DAYS, 96) * renewable_scale
    return load, res


def features(load: np.ndarray, res: np.ndarray) -> np.ndarray:
    """(days, 49) clustering features: hourly load and renewables over their maxima and
    the weekend flag."""
    days = load.shape[0]

    def hourly(x: np.ndarray) -> np.ndarray:
        h: np.ndarray = x.reshape(days, 24, -1).mean(axis=2)
        top = float(np.abs(h).max())
        return h / top if top > 0 else h

    flag = np.array([[WEEKEND_WEIGHT * weekend(d)] for d in range(days)])
    out: np.ndarray = np.hstack([hourly(load), hourly(res), flag])
    return out


def k_medoids(x: np.ndarray, k: int, iterations: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """Medoid indices (sorted) and each row's cluster (index into the medoids)."""
    d = np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(axis=2))
    k = min(k, len(x))
    medoids = [int(d.sum(axis=1).argmin())]
    while len(medoids) < k:
        far = d[:, medoids].min(axis=1)
        far[medoids] = -1.0  # distinct medoids even where days are identical
        medoids.append(int(far.argmax()))
    for _ in range(iterations):
        assign = d[:, medoids].argmin(axis=1)
        new = []
        for c in range(k):
            members = np.flatnonzero(assign == c)
            if not len(members):  # an empty cluster (identical days) keeps its medoid
                new.append(medoids[c])
                continue
            new.append(int(members[d[np.ix_(members, members)].sum(axis=1).argmin()]))
        if new == medoids:
            break
        medoids = new
    order = np.argsort(medoids)
    medoids_sorted = np.asarray(medoids)[order]
    assign = d[:, medoids_sorted].argmin(axis=1)
    return medoids_sorted, assign


def representative_days(load: np.ndarray, res: np.ndarray, n: int) -> list[RepresentativeDay]:
    """``n`` representative days (fewer where days are identical) with weights summing to
    the number of days; with n >= 2 the stress day is one of them (weight 1)."""
    days = load.shape[0]
    if not 1 <= n <= days:
        raise ValueError(f"expected 1 .. {days} representative days, got {n}")
    if n == 1:
        medoids, _ = k_medoids(features(load, res), 1)
        return [RepresentativeDay(int(medoids[0]), days, label(int(medoids[0])))]
    stress = int(np.abs(res - load).max(axis=1).argmax())
    rest = np.array([d for d in range(days) if d != stress])
    medoids, assign = k_medoids(features(load[rest], res[rest]), n - 1)
    chosen = [
        RepresentativeDay(int(rest[m]), int((assign == c).sum()), label(int(rest[m])))
        for c, m in enumerate(medoids)
    ]
    chosen.append(RepresentativeDay(stress, 1, f"stress day {label(stress)}"))
    # a medoid that represents no day (identical profiles, e.g. a grid without profiles)
    # is dropped: fewer days than asked, the same year
    return sorted((r for r in chosen if r.weight), key=lambda r: r.day)
