import sys

from thar.signpost.cli import main

sys.exit(main())
