import sys

from thar.thar_be_updates.cli import main

sys.exit(main())
