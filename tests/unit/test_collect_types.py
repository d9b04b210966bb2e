"""collected.parquet keeps each override column's type (it was all strings)."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq

from mcrisk.tasks.collect import collect

JOBS = [  # overrides per job, as Hydra writes them into .hydra/overrides.yaml
    ["model=gbm", "sim.n_paths=1e3", "sim.seed=1", "greeks.enabled=false",
     "market.rate=0.03", "sim.chunk_size=1000", "risk.levels=[0.99]"],
    ["model=merton", "sim.n_paths=2000", "sim.seed=2", "greeks.enabled=true",
     "market.rate=0.05", "sim.chunk_size=auto", "risk.levels=[0.95]"],
    ["model=heston", "sim.n_paths=4000", "sim.seed=3", "greeks.enabled=true",
     "market.rate=0", "sim.chunk_size=2000", "risk.levels=[0.9]"],
]


def test_collected_parquet_has_typed_columns(tmp_path):
    for i, overrides in enumerate(JOBS):
        job = tmp_path / str(i)
        (job / ".hydra").mkdir(parents=True)
        (job / ".hydra" / "overrides.yaml").write_text(
            "".join(f"- {o}\n" for o in overrides))
        (job / "results.json").write_text(json.dumps({
            "task": "price", "model": overrides[0][6:], "dtype": "float32",
            "n_paths": 1000 * (i + 1), "seed": i + 1, "seconds": 0.5 + i,
            "book": {"value": 100.0 + i, "stderr": 0.1}}))
    collect(str(tmp_path))
    table = pq.read_table(tmp_path / "collected.parquet")
    types = {f.name: f.type for f in table.schema}
    assert types["sim.seed"] == pa.int64() and types["greeks.enabled"] == pa.bool_()
    # 1e3 is the float Hydra gave the job; ints and floats in one column become floats.
    assert types["sim.n_paths"] == pa.float64() and types["market.rate"] == pa.float64()
    assert table.column("sim.n_paths").to_pylist() == [1000.0, 2000.0, 4000.0]
    assert table.column("market.rate").to_pylist() == [0.03, 0.05, 0.0]
    assert table.column("greeks.enabled").to_pylist() == [False, True, True]
    assert types["model"] == pa.string() and types["book_value"] == pa.float64()
    assert types["n_paths"] == pa.int64()
    # An int/string mix and list values stay the text the user typed.
    assert types["sim.chunk_size"] == pa.string()
    assert table.column("sim.chunk_size").to_pylist() == ["1000", "auto", "2000"]
    assert table.column("risk.levels").to_pylist() == ["[0.99]", "[0.95]", "[0.9]"]
