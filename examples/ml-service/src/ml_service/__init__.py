"""A tiny FastAPI service backed by pandas."""

from __future__ import annotations

import pandas as pd
from fastapi import FastAPI

app = FastAPI(title="ml-service")

ORDERS = pd.DataFrame(
    {
        "region": ["north", "south", "north", "east", "south", "east"],
        "amount": [120.0, 80.5, 42.0, 300.0, 19.5, 61.0],
    }
)


@app.get("/summary")
def summary() -> dict[str, object]:
    """Total and mean order amount per region."""
    grouped = ORDERS.groupby("region")["amount"].agg(["sum", "mean"]).round(2)
    return {
        "regions": {region: row.to_dict() for region, row in grouped.iterrows()},
        "pandas": pd.__version__,
    }
