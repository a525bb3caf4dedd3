import sys

from drugsim.cli import main

sys.exit(main())
