import sys

from thar.updog.cli import main

sys.exit(main())
