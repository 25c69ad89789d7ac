import sys

from loquilex.cli.main import main

sys.exit(main())
