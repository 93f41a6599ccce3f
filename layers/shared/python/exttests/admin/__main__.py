import sys

from exttests.admin.cli import main

sys.exit(main())
