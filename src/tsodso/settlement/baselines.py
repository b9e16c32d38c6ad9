"""Settlement baselines: the counterfactual metered power of each DER had it not been
activated, and the flexibility it delivered measured against one.

Owns: the baseline methods (``BASELINE_METHODS``), delivered flexibility and the error of a
baseline against the true counterfactual. Must not: settle, price or move money
(``settlement.settle``), simulate delivery (``dispatch.delivery``) or read profiles
(``scenario.history`` provides the history).

Arrays are (DER, period) unless stated; the history is (DER, day, period). ``event`` marks
the periods in which a DER was activated (its set-point differs from its nominated schedule).

Sign convention (stated once): power is injection, positive out of the DER, so a load's power
is negative. Delivered flexibility is ``metered - baseline``: positive = *up* (more injection
or less consumption), negative = *down*. For a load, delivered = baseline consumption minus
metered consumption.

Methods:

- ``nominated``: the provider's nominated schedule.
- ``historical``: "high X of Y" with a same-day additive adjustment (see
  ``historical_baseline``).
- ``mbma``: meter before / meter after: each run of event periods holds the metered value of
  the period just before it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

BASELINE_METHODS: tuple[str, ...] = ("nominated", "historical", "mbma")


def _mw(name: str, a: np.ndarray, ndim: int = 2) -> np.ndarray:
    arr = np.asarray(a, dtype=float)
    if arr.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-D array, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name}: {int((~np.isfinite(arr)).sum())} non-finite value(s)")
    return arr


def _same_shape(shape: tuple[int, ...], **arrays: np.ndarray) -> None:
    bad = [f"{k} {v.shape}" for k, v in arrays.items() if v.shape != shape]
    if bad:
        raise ValueError(f"shapes differ: expected (DER, period) = {shape}, got {', '.join(bad)}")


def _event(event: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    ev = np.asarray(event)
    if ev.dtype != bool:
        raise ValueError(f"event: expected a boolean array, got dtype {ev.dtype}")
    _same_shape(shape, event=ev)
    return ev


def nominated_baseline(nominated_mw: np.ndarray) -> np.ndarray:
    """The provider's nominated schedule (a copy)."""
    return _mw("nominated_mw", nominated_mw).copy()


def historical_baseline(
    history_mw: np.ndarray,
    metered_mw: np.ndarray,
    event: np.ndarray,
    x: int = 4,
    adjustment_periods: int = 4,
    adjustment_cap: float = 0.2,
) -> np.ndarray:
    """ "High X of Y" baseline with a same-day additive adjustment.

    ``history_mw`` is (D, Y, T): each DER's power on Y earlier days. For each DER the X days
    with the highest mean absolute power over the DER's event periods (over all periods when
    it has none) are averaged per period; ties keep the earlier position in ``history_mw``.

    The adjustment is the mean of ``metered - averaged history`` over the
    ``adjustment_periods`` periods just before the DER's first event period (fewer if the
    event starts earlier; none if it starts at period 0 or the DER has no event), capped at
    +-``adjustment_cap`` times the mean absolute averaged history over those periods (0 when
    that level is 0). It is added to every period of the day.
    """
    hist = _mw("history_mw", history_mw, ndim=3)
    met = _mw("metered_mw", metered_mw)
    ev = _event(event, met.shape)
    n_der, n_days, n_per = hist.shape
    if (n_der, n_per) != met.shape:
        raise ValueError(
            f"history_mw {hist.shape} does not match metered_mw {met.shape}: "
            "expected (DER, day, period) with the same DERs and periods"
        )
    if not 1 <= x <= n_days:
        raise ValueError(f"x = {x}: expected 1 <= x <= Y = {n_days} history days")
    if adjustment_periods < 0:
        raise ValueError(f"adjustment_periods = {adjustment_periods}: expected >= 0")
    if adjustment_cap < 0:
        raise ValueError(f"adjustment_cap = {adjustment_cap}: expected >= 0")

    has_event = np.asarray(ev.any(axis=1))
    weight = np.where(has_event[:, None], ev, True).astype(float)  # (D, T)
    score = np.einsum("dyt,dt->dy", np.abs(hist), weight) / np.maximum(weight.sum(1), 1)[:, None]
    top = np.argsort(-score, axis=1, kind="stable")[:, :x]  # (D, X)
    chosen = np.zeros((n_der, n_days))
    np.put_along_axis(chosen, top, 1.0 / x, axis=1)
    avg = np.einsum("dyt,dy->dt", hist, chosen)  # (D, T): mean of the X chosen days

    first = np.where(has_event, ev.argmax(axis=1), 0) if n_per else np.zeros(n_der, int)
    t = np.arange(n_per)[None, :]
    window = (t < first[:, None]) & (t >= (first - adjustment_periods)[:, None])
    n = window.sum(axis=1)
    safe_n = np.maximum(n, 1)
    shift = np.where(window, met - avg, 0.0).sum(axis=1) / safe_n
    cap = adjustment_cap * np.where(window, np.abs(avg), 0.0).sum(axis=1) / safe_n
    adjustment = np.where(n > 0, np.clip(shift, -cap, cap), 0.0)
    return np.asarray(avg + adjustment[:, None])


def mbma_baseline(
    metered_mw: np.ndarray, event: np.ndarray, nominated_mw: np.ndarray
) -> np.ndarray:
    """Meter before / meter after: during each run of event periods the baseline is the
    metered value of the period just before the run (the nominated value of period 0 when
    the run starts at period 0); outside events it is the metered value itself."""
    met = _mw("metered_mw", metered_mw)
    nom = _mw("nominated_mw", nominated_mw)
    _same_shape(met.shape, nominated_mw=nom)
    ev = _event(event, met.shape)
    t = np.arange(met.shape[1])
    last_free = np.maximum.accumulate(np.where(ev, -1, t[None, :]), axis=1)  # (D, T)
    held = np.take_along_axis(met, np.maximum(last_free, 0), axis=1)
    return np.where(last_free >= 0, held, nom[:, :1])


def baseline(
    method: str,
    *,
    nominated_mw: np.ndarray,
    metered_mw: np.ndarray,
    event: np.ndarray,
    history_mw: np.ndarray | None = None,
    **kw: Any,
) -> np.ndarray:
    """The (D, T) baseline of ``method`` (one of ``BASELINE_METHODS``). ``kw`` are the
    options of ``historical_baseline`` (x, adjustment_periods, adjustment_cap); the other
    methods take none."""
    if method not in BASELINE_METHODS:
        raise ValueError(f"baseline method {method!r}: expected one of {BASELINE_METHODS}")
    if kw and method != "historical":
        raise ValueError(f"baseline method {method!r} takes no options, got {sorted(kw)}")
    if method == "nominated":
        nom = nominated_baseline(nominated_mw)
        _same_shape(nom.shape, metered_mw=np.asarray(metered_mw))
        _event(event, nom.shape)
        return nom
    if method == "mbma":
        return mbma_baseline(metered_mw, event, nominated_mw)
    if history_mw is None:
        raise ValueError(
            "baseline method 'historical' needs history_mw, the (DER, day, period) DER history"
        )
    allowed = {"x", "adjustment_periods", "adjustment_cap"}
    if set(kw) - allowed:
        raise ValueError(
            f"baseline method 'historical': unknown options {sorted(set(kw) - allowed)}, "
            f"expected {sorted(allowed)}"
        )
    return historical_baseline(history_mw, metered_mw, event, **kw)


def delivered_mw(baseline_mw: np.ndarray, metered_mw: np.ndarray) -> np.ndarray:
    """Delivered flexibility ``metered - baseline`` (D, T): + = up, - = down."""
    base = _mw("baseline_mw", baseline_mw)
    met = _mw("metered_mw", metered_mw)
    _same_shape(base.shape, metered_mw=met)
    return np.asarray(met - base)


def baseline_error(
    baseline_mw: np.ndarray, true_mw: np.ndarray, event: np.ndarray
) -> dict[str, float]:
    """Error of a baseline against the true counterfactual over the event intervals only:
    mean absolute error, bias (mean of baseline - true), root mean square error (MW) and
    the number of intervals. Zeros and a count of 0 when there is no event interval."""
    base = _mw("baseline_mw", baseline_mw)
    true = _mw("true_mw", true_mw)
    _same_shape(base.shape, true_mw=true)
    ev = _event(event, base.shape)
    err = (base - true)[ev]
    if not err.size:
        return {"mae_mw": 0.0, "bias_mw": 0.0, "rmse_mw": 0.0, "intervals": 0}
    return {
        "mae_mw": float(np.abs(err).mean()),
        "bias_mw": float(err.mean()),
        "rmse_mw": float(np.sqrt((err**2).mean())),
        "intervals": int(err.size),
    }
