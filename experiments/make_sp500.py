"""Write experiments/data/sp500.csv: daily S&P 500 closes, 1999-01-04 to 2018-12-31.

Source: the `arch` package (Kevin Sheppard; arch is under the NCSA open-source licence,
its LICENSE.md) ships this series as ``arch/data/sp500/sp500.csv.gz``, "the S&P 500 data used
in the examples" (`arch.data.sp500.load()`). arch's installed files and its documentation
name no source or separate licence for the data; the columns (Open, High, Low, Close,
Adj Close, Volume) are Yahoo Finance's daily export of ^GSPC, where it comes from. Real
market data that no one here made, read from the installed package, never fetched at run
time. The column written is the adjusted close (for an index it equals the close).

    python experiments/make_sp500.py   # rewrites the identical file
"""

from pathlib import Path

from arch.data.sp500 import load

OUT = Path(__file__).parent / "data" / "sp500.csv"

if __name__ == "__main__":
    close = load()["Adj Close"]
    lines = ["date,SPX"] + [f"{d:%Y-%m-%d},{v:.6f}" for d, v in close.items()]
    OUT.write_text("\n".join(lines) + "\n")
    print(f"wrote {OUT}: {len(lines) - 1} rows")
