"""Register the schema with Hydra's ConfigStore and compose configs from Python."""

from __future__ import annotations

from pathlib import Path


def register() -> None:
    """Store the typed schema as `base_config` (conf/config.yaml lists it first), the
    `mcrisk.record_dir` resolver that conf/config.yaml's `hydra.output_subdir` uses and the
    `mcrisk.project` resolver of presets' data files."""
    from hydra.core.config_store import ConfigStore
    from omegaconf import OmegaConf

    from mcrisk.config.schema import Config

    ConfigStore.instance().store(name="base_config", node=Config)
    OmegaConf.register_new_resolver("mcrisk.record_dir", record_dir, replace=True)
    OmegaConf.register_new_resolver("mcrisk.project", project_path, replace=True)


def project_path(relative: str) -> str:
    """``${mcrisk.project:experiments/data/x.csv}`` in a preset: a file of the source checkout
    (the folder that holds conf/), so a preset's sample data is found from any working
    directory. An installed wheel has no such files; the task then names the missing path."""
    return str(Path(conf_dir()).parent / relative)


def record_dir(output_dir: str, resume: bool) -> str | None:
    """Where Hydra saves a job's `.hydra/` record; None (save nothing) for a finished job
    that is being resumed.

    Hydra writes `.hydra/config.yaml` before the job starts, so without this a resumed
    sweep with other overrides would overwrite the record of a finished job before
    `resume` could compare it with the new config.
    """
    results = Path(output_dir) / "results.json"
    if resume and results.is_file() and not _partial(results):
        return None
    return ".hydra"


def _partial(results: Path) -> bool:
    """A results.json left by an interrupted run (re-run on resume, so its record is
    rewritten); an unreadable file counts as finished, for `resume` to report it."""
    import json

    try:
        return bool(json.loads(results.read_text()).get("partial", False))
    except (OSError, ValueError, AttributeError):
        return False


def conf_dir() -> str:
    """The config folder: the checkout's conf/ when run from source, else the wheel's copy."""
    source = Path(__file__).resolve().parent.parent.parent / "conf"
    if (source / "config.yaml").is_file():
        return str(source)
    from importlib.resources import files

    return str(files("mcrisk.conf"))


BOOK_SUFFIXES = (".yaml", ".yml")
CHAIN_SUFFIXES = (".csv", ".parquet", ".pq")


def file_overrides(args: list[str]) -> list[str]:
    """Spell a book file on the command line the way Hydra composes it.

    ``portfolio=path/to/book.yaml`` (a file, not a group option; a comma list sweeps files)
    and a bare ``portfolio.file=...`` both become ``portfolio=from_file
    portfolio.file=...``, so the file replaces the default book instead of adding to it.
    Likewise ``quotes=chain.csv`` (task=calibrate) becomes ``quotes.path=chain.csv``.
    Every other argument is passed through unchanged.
    """
    out, files, group_given = [], False, False
    for arg in args:
        key, eq, value = arg.partition("=")
        if eq and key == "quotes" and value.strip().lower().endswith(CHAIN_SUFFIXES):
            out.append(f"quotes.path={value}")
            continue
        if eq and key == "portfolio" and value and all(
                v.strip().endswith(BOOK_SUFFIXES) for v in value.split(",")):
            out += ["portfolio=from_file", f"portfolio.file={value}"]
            files = group_given = True
            continue
        files |= bool(eq) and key.lstrip("+") == "portfolio.file"
        group_given |= bool(eq) and key == "portfolio"
        out.append(arg)
    if files and not group_given:
        out.append("portfolio=from_file")
    return out


def compose(overrides: list[str] | None = None, config_name: str = "config"):
    """Compose the Hydra config from Python (notebooks): safe to call again and again.

    Example:
        cfg = compose(["experiment=crypto_book_var", "sim=fast"])
        mcrisk.risk(cfg)
    """
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    register()
    # Re-running a notebook cell must not fail with "GlobalHydra is already initialized".
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=conf_dir(), version_base="1.3"):
        return hydra_compose(config_name=config_name,
                             overrides=file_overrides(list(overrides or [])))
