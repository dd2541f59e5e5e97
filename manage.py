#!/usr/bin/env python
"""Django's command-line utility for the tip line."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from config.bootstrap import prepare_data_dir

    # Before Django reads the settings: the data dir and the generated key.
    prepare_data_dir()
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
