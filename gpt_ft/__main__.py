"`python -m gpt_ft`: the same program as the `gpt_ft` command (see `gpt_ft.cli`)."
import sys
from gpt_ft.cli import main

if __name__ == '__main__': sys.exit(main())
