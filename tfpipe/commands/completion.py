"""`tfpipe completion bash|zsh|fish`: the shell's completion script, from argcomplete.

The script asks tfpipe itself what completes the word under the cursor (cli.main hands the parser
to argcomplete first), so completion always knows the current commands, options, pipelines (named
ones of the workdir too) and the `--set` keys of the pipeline on the command line (the completers
of those arguments are in options.py).
"""

from __future__ import annotations

import argparse

SHELLS = ("bash", "zsh", "fish")
_HOW = {
    "bash": 'eval "$(tfpipe completion bash)" in ~/.bashrc',
    "zsh": 'eval "$(tfpipe completion zsh)" in ~/.zshrc',
    "fish": "tfpipe completion fish | source in ~/.config/fish/config.fish",
}


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "completion",
        help="print a completion script for bash, zsh or fish",
        description="Prints a completion script of tfpipe's commands, options, pipelines and --set keys. "
        + "; ".join(f"{shell}: {how}" for shell, how in _HOW.items())
        + ".",
    )
    parser.add_argument("shell", choices=SHELLS, help="the shell")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import argcomplete

    print(argcomplete.shellcode(["tfpipe"], shell=args.shell), end="")
    return 0
