"""The project's cache folder, outside the repository: model copies, synthesis estimates and the top-N protocol's
kept states live in it."""
import os
from pathlib import Path


def cache_dir():
    """$PEZO_CACHE, else $XDG_CACHE_HOME/pezo, else ~/.cache/pezo."""
    base = os.environ.get("PEZO_CACHE") or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "pezo"
    return Path(base)


def cache_folder(name):
    """The cache's folder `name`, recorded in the cache's marker as pezo's own (pezo.files), so that pezo may
    replace what it holds."""
    from .files import own
    return own(cache_dir(), [f"{name}/"]) / name
