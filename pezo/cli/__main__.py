"""`python -m pezo.cli` (as torchrun launches `pezo train` on each rank): the `pezo` command."""
import sys

from . import main

sys.exit(main())
