"""`tfpipe completion bash`: a bash completion script generated from the CLI's own parser, so it
always knows the current commands, options and pipeline names."""

from __future__ import annotations

import argparse


def bash_script(parser: argparse.ArgumentParser, pipelines: list[str]) -> str:
    commands = _subcommands(parser)
    cases = "\n".join(
        f'        {name}) opts="{" ".join(_options(command))}" ;;' for name, command in sorted(commands.items())
    )
    return f"""# bash completion for tfpipe (tfpipe completion bash)
_tfpipe() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}" command="${{COMP_WORDS[1]}}" opts=""
    if [ "$COMP_CWORD" -eq 1 ]; then
        COMPREPLY=($(compgen -W "{" ".join(sorted(commands))} --help --version" -- "$cur"))
        return
    fi
    case "$command" in
{cases}
    esac
    case "$cur" in
        -*) COMPREPLY=($(compgen -W "$opts" -- "$cur")) ;;
        *) if [ "$COMP_CWORD" -eq 2 ]; then
               COMPREPLY=($(compgen -W "{" ".join(pipelines)}" -- "$cur"))
           else
               COMPREPLY=($(compgen -f -- "$cur"))
           fi ;;
    esac
}}
complete -o filenames -F _tfpipe tfpipe
"""


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:  # argparse keeps subparsers only here
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _options(parser: argparse.ArgumentParser) -> list[str]:
    return sorted(option for action in parser._actions for option in action.option_strings if option.startswith("--"))
