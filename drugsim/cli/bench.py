"""Sub-commands: placeholder until its owner fills it in."""


def register(subparsers) -> None:
    return None
