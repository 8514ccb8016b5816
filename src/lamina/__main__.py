"""``python -m lamina``: the ``lamina`` command."""

from lamina.cli.main import main

if __name__ == "__main__":
    main()
