import sys

from tradepulse.cli import main

sys.exit(main())
