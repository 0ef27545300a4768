"""Every private or fragile API milvus-conn leans on, each in one place with the reason.

When a dependency moves one of these, this module is the only one to change. Nothing
here is imported at module level by the library's core: each name is a function or is
looked up where it is used.
"""

from __future__ import annotations


def click_exception_base() -> type[Exception]:
    """The base class of click's usage errors (`ClickException`), to catch them all.

    typer 0.28 vendors click as `typer._click` and re-exports none of its exceptions;
    older typers depend on click, where `click.ClickException` is public. There is no
    public name that works for both, so try the vendored one first."""
    try:
        from typer._click.exceptions import ClickException
    except ImportError:  # typer < 0.28: click is a separate, public package
        from click import ClickException  # type: ignore[no-redef]
    return ClickException  # type: ignore[no-any-return]


def init_completion_classes() -> None:
    """Register typer's shell-completion classes (bash, zsh, fish, powershell).

    typer does this itself in `typer.main.get_command` when `add_completion` is on; conn
    turns that off (its completion scripts are generated files, and loading the classes
    costs start-up), so it calls the private `typer._completion_classes.completion_init`
    when a shell asks for candidates. No public replacement exists."""
    from typer._completion_classes import completion_init

    completion_init()
