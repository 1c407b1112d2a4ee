"""``vmgen watch``: print each generation change with a timestamp until Ctrl-C."""
from __future__ import annotations

import argparse
import datetime

from ._counter_args import add_counter_arguments, open_counter


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    add_counter_arguments(parser)


def run(args: argparse.Namespace) -> int:
    with open_counter(args) as c:
        g = c.read()
        print(f"{_now()} watching {c.backend} ({c.describe()}); generation {g}; Ctrl-C stops", flush=True)
        while True:
            g = c.wait(g)
            print(f"{_now()} changed: {g}", flush=True)


def _now() -> str:
    return datetime.datetime.now().astimezone().isoformat(timespec="milliseconds")
