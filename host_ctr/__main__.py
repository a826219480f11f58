import sys

from thar.host_ctr.cli import main

sys.exit(main())
