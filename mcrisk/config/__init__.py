"""Config boundary: plain dict / DictConfig / Problem in, validated `Problem` out."""

from mcrisk.config.build import build as build

__all__ = ["build"]
