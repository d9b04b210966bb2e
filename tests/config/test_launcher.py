"""The cluster launcher option composes with the submitit plugin (an optional extra)."""

from __future__ import annotations

import importlib.util

import pytest

from mcrisk.config.store import conf_dir


def _plugin_installed() -> bool:
    try:
        return importlib.util.find_spec("hydra_plugins.hydra_submitit_launcher") is not None
    except ModuleNotFoundError:  # no hydra_plugins namespace at all
        return False


@pytest.mark.skipif(not _plugin_installed(),
                    reason="hydra-submitit-launcher is not installed (pip install "
                           "'mcrisk[cluster]')")
def test_slurm_launcher_composes_over_the_submitit_plugin():
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from mcrisk.config.store import register

    register()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=conf_dir(), version_base="1.3"):
        cfg = compose("config", overrides=["hydra/launcher=slurm",
                                           "hydra.launcher.partition=cpu"],
                      return_hydra_config=True)
    GlobalHydra.instance().clear()
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("submitit_launcher.SlurmLauncher")
    assert (launcher.partition, launcher.cpus_per_task, launcher.nodes) == ("cpu", 16, 1)
    # Job logs and pickles go inside the sweep's own folder.
    assert launcher.submitit_folder == f"{cfg.hydra.sweep.dir}/.submitit/%j"
