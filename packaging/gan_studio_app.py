"""The desktop bundle's entry point: the same command line as the ``gan-studio`` console script.

No arguments open the window; ``--self-test`` checks the bundle; sub-commands run headless.
"""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()  # a frozen app must not re-run main() in a spawned child

    from gan_studio.cli import main

    sys.exit(main())
