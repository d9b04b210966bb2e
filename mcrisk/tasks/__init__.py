"""Tasks: each ``run(cfg) -> dict`` is what the CLI calls and what the Python API returns."""

TASKS = ("price", "risk")


def run(cfg, progress=None) -> dict:
    """Dispatch on ``cfg["task"]`` (default "price")."""
    from mcrisk import errors as E
    from mcrisk.config.build import to_plain

    plain = E.mapping("config", to_plain(cfg))
    task = E.choice("task", plain.get("task", "price"), TASKS)
    if task == "price":
        from mcrisk.tasks.price import run as run_price

        return run_price(plain, progress=progress)
    if task == "risk":
        from mcrisk.tasks.risk import run as run_risk

        return run_risk(plain, progress=progress)
    raise AssertionError(task)  # unreachable: `choice` rejected it
