import sys

from thar.bootstrap_containers.cli import main

sys.exit(main())
