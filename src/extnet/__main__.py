import sys

from extnet.cli import main

sys.exit(main())
