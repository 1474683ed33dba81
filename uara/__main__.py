import sys

from uara.cli import main

sys.exit(main())
