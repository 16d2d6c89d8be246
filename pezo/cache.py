"""The project's cache folder, outside the repository: model copies and synthesis estimates live in it."""
import os
from pathlib import Path


def cache_dir():
    """$PEZO_CACHE, else $XDG_CACHE_HOME/pezo, else ~/.cache/pezo."""
    base = os.environ.get("PEZO_CACHE") or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "pezo"
    return Path(base)
