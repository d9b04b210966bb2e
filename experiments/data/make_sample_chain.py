"""Write the synthetic BTC/ETH option chain `btc_eth_chain.csv` in Deribit's export layout.

Deterministic (seeded): running it again rewrites the same file. The model, its parameters,
the noise and the deliberately bad rows are described in README.md next to this script.

    python experiments/data/make_sample_chain.py
"""

from __future__ import annotations

import csv
import math
import os
from datetime import date, datetime, timezone

import numpy as np
from scipy.optimize import brentq
from scipy.stats import norm

SEED = 20241220
VALUATION = datetime(2024, 12, 20, 10, 0, tzinfo=timezone.utc)
EXPIRIES = [date(2024, 12, 21), date(2024, 12, 22), date(2024, 12, 23),  # dailies
            date(2024, 12, 27), date(2025, 1, 3), date(2025, 1, 10),     # weeklies
            date(2025, 1, 31), date(2025, 2, 28),                        # monthlies
            date(2025, 3, 28), date(2025, 6, 27), date(2025, 9, 26),     # quarterlies
            date(2025, 12, 26)]
# spot, futures basis (annual), ATM vol at T=0 and T=inf, decay (years), SSVI rho, eta, gamma,
# strike steps by distance band (|K/S - 1| <= 5%, 15%, 40%, beyond).
ASSETS = {
    "BTC": dict(spot=95000.0, basis=0.08, vol0=0.62, vol_inf=0.50, tau=0.15, rho=-0.15,
                eta=1.0, gamma=0.45, steps=(1000.0, 2500.0, 5000.0, 10000.0)),
    "ETH": dict(spot=3400.0, basis=0.09, vol0=0.72, vol_inf=0.60, tau=0.15, rho=-0.20,
                eta=1.0, gamma=0.45, steps=(25.0, 50.0, 100.0, 250.0)),
}
MIN_OTM_PRICE = 2e-4  # in the coin: strikes whose OTM option is worth less are not listed
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
COLUMNS = ("instrument_name", "timestamp", "underlying_index", "underlying_price", "index_price",
           "interest_rate", "mark_price", "best_bid_price", "best_ask_price", "mark_iv",
           "bid_iv", "ask_iv")


def years(d: date) -> float:
    expiry = datetime(d.year, d.month, d.day, 8, tzinfo=timezone.utc)
    return (expiry - VALUATION).total_seconds() / (365.0 * 86400.0)


def name(und: str, d: date, strike: float, call: bool) -> str:
    kind = "C" if call else "P"
    return f"{und}-{d.day}{MONTHS[d.month - 1]}{d.year % 100:02d}-{strike:.0f}-{kind}"


def atm_vol(p: dict, t: float) -> float:
    return p["vol_inf"] + (p["vol0"] - p["vol_inf"]) * math.exp(-t / p["tau"])


def ssvi_vol(p: dict, k: float, t: float) -> float:
    """SSVI (Gatheral & Jacquier 2014, eq. 4.1) with the power-law phi (eq. 4.5)."""
    theta = atm_vol(p, t) ** 2 * t
    phi = p["eta"] / (theta ** p["gamma"] * (1.0 + theta) ** (1.0 - p["gamma"]))
    rho = p["rho"]
    w = 0.5 * theta * (1 + rho * phi * k + math.sqrt((phi * k + rho) ** 2 + 1 - rho ** 2))
    return math.sqrt(w / t)


def coin_price(f: float, k: float, t: float, vol: float, call: bool) -> float:
    """Black-76 with zero rate (Deribit's interest_rate), divided by the forward."""
    s = vol * math.sqrt(t)
    d1 = math.log(f / k) / s + 0.5 * s
    if call:
        return norm.cdf(d1) - k / f * norm.cdf(d1 - s)
    return k / f * norm.cdf(s - d1) - norm.cdf(-d1)


def implied(price: float, f: float, k: float, t: float, call: bool) -> float:
    return brentq(lambda v: coin_price(f, k, t, v, call) - price, 1e-4, 20.0, xtol=1e-10)


def tick(price: float) -> float:
    return 0.0001 if price < 0.005 else 0.0005


def strikes(p: dict, f: float, t: float) -> list[float]:
    """Deribit-like grid: fine near the money, coarser out, 0.3x to 3x spot at most."""
    spot, out, k = p["spot"], [], 0.0
    bands = (0.05, 0.15, 0.40, math.inf)
    k = p["steps"][-1]
    while k <= 3.0 * spot:
        step = next(s for b, s in zip(bands, p["steps"]) if abs(k / spot - 1) <= b)
        if k >= 0.3 * spot and k % step == 0:
            vol = ssvi_vol(p, math.log(k / f), t)
            otm = coin_price(f, k, t, vol, k >= f)
            if otm >= MIN_OTM_PRICE:
                out.append(k)
        k += p["steps"][0]
    return out


def quote(rng: np.random.Generator, und: str, p: dict, d: date, k: float, call: bool) -> dict:
    t = years(d)
    f = round(p["spot"] * math.exp(p["basis"] * t), 2)  # as published: prices agree with it
    lk = math.log(k / f)
    vol = ssvi_vol(p, lk, t)
    z = abs(lk) / (vol * math.sqrt(t))
    # Noise of 0.3 vol points near the money, more in the wings; half-spreads of 0.6 vol
    # points plus more in the wings and in the shortest expiries.
    mark_iv = round(100 * (vol + rng.normal(0.0, 0.003 * (1 + 0.5 * z))), 2)
    half = 0.006 + 0.003 * z + 0.002 / math.sqrt(t * 365.0)
    mark = round(coin_price(f, k, t, mark_iv / 100, call), 8)
    bid = coin_price(f, k, t, max(mark_iv / 100 - half, 0.05), call)
    ask = coin_price(f, k, t, mark_iv / 100 + half, call)
    bid = math.floor(bid / tick(bid) + 1e-9) * tick(bid)
    ask = math.ceil(ask / tick(ask) - 1e-9) * tick(ask)
    intrinsic = max(f - k, 0.0) / f if call else max(k - f, 0.0) / f
    bid = round(bid, 4) if bid > intrinsic + 1e-12 else 0.0  # no bid, shown as 0 by Deribit
    ask = round(ask, 4)
    return {
        "instrument_name": name(und, d, k, call),
        "timestamp": int(VALUATION.timestamp() * 1000),
        "underlying_index": f"{und}-{d.day}{MONTHS[d.month - 1]}{d.year % 100:02d}",
        "underlying_price": f, "index_price": p["spot"], "interest_rate": 0.0,
        "mark_price": mark, "best_bid_price": bid, "best_ask_price": ask, "mark_iv": mark_iv,
        "bid_iv": round(100 * implied(bid, f, k, t, call), 2) if bid else 0.0,
        "ask_iv": round(100 * implied(ask, f, k, t, call), 2),
    }


def bad_rows(rng: np.random.Generator) -> list[dict]:
    """Deliberately bad quotes at strikes off the grid, so they collide with nothing."""
    btc, eth = ASSETS["BTC"], ASSETS["ETH"]
    d = date(2025, 1, 31)
    crossed = quote(rng, "BTC", btc, d, 96500, True)
    crossed["best_bid_price"], crossed["best_ask_price"] = (crossed["best_ask_price"] + 0.001,
                                                            crossed["best_bid_price"])
    negative = quote(rng, "ETH", eth, d, 3410, True)
    negative["mark_price"] = -negative["mark_price"]
    conflict = quote(rng, "BTC", btc, date(2025, 3, 28), 101500, False)
    # A second, different but otherwise valid quote of the same option.
    conflict2 = dict(conflict, mark_price=round((conflict["mark_price"]
                                                 + conflict["best_bid_price"]) / 2, 8))
    repeat = quote(rng, "ETH", eth, date(2025, 3, 28), 3610, False)
    above = quote(rng, "BTC", btc, date(2025, 6, 27), 98500, True)
    above["mark_price"] = 1.02  # a call worth more than the underlying
    above["best_bid_price"] = above["best_ask_price"] = ""  # an empty book: only the mark
    below = quote(rng, "ETH", eth, date(2025, 1, 3), 3910, False)
    below["mark_price"] = round(max(3910 - below["underlying_price"], 0) / below["underlying_price"]
                                * 0.98, 8)  # a put worth less than its intrinsic value
    below["best_bid_price"] = 0.0
    expired = quote(rng, "BTC", btc, date(2024, 12, 27), 95500, True)
    expired["instrument_name"] = "BTC-13DEC24-95500-C"
    bad_name = quote(rng, "BTC", btc, date(2025, 2, 28), 105500, True)
    bad_name["instrument_name"] = "BTC-30FEB25-105500-C"
    outside = quote(rng, "ETH", eth, date(2025, 2, 28), 3290, True)
    outside["mark_price"] = round(outside["best_ask_price"] * 1.2, 8)
    return [crossed, negative, conflict, conflict2, repeat, repeat, above, below, expired,
            bad_name, outside]


def main() -> None:
    rng = np.random.default_rng(SEED)
    rows = []
    for und, p in ASSETS.items():
        prev = 0.0
        for d in EXPIRIES:
            t = years(d)
            theta = atm_vol(p, t) ** 2 * t
            assert theta > prev, "ATM total variance must increase (no calendar arbitrage)"
            assert p["eta"] * (1 + abs(p["rho"])) <= 2 and 0 < p["gamma"] <= 0.5
            prev = theta
            f = p["spot"] * math.exp(p["basis"] * t)
            for k in strikes(p, f, t):
                rows.append(quote(rng, und, p, d, k, True))
                rows.append(quote(rng, und, p, d, k, False))
    bad = bad_rows(rng)
    # Bad rows go to fixed, spread-out places, so a reader cannot pass by skipping the tail.
    for j, row in enumerate(bad):
        rows.insert(37 + 150 * j, row)
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "btc_eth_chain.csv")
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} rows ({len(bad)} deliberately bad) to {path}")


if __name__ == "__main__":
    main()
