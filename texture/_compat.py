"""Old names kept working for one release: a wrapper that warns and calls the new function.

The one place that words the deprecation, for ``texture`` and ``pipelines`` alike.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any

__all__ = ["deprecated_alias", "positional_deprecated", "warn_deprecated", "REMOVED_IN"]

#: The release that drops the old names.
REMOVED_IN = "0.3"


def deprecated_alias(func: Callable[..., Any], old_name: str) -> Callable[..., Any]:
    """``func`` under its former name ``old_name``: same behaviour, plus a ``DeprecationWarning``."""

    @functools.wraps(func)
    def alias(*args: Any, **kwargs: Any) -> Any:
        warnings.warn(
            f"{old_name} is renamed {func.__module__}.{func.__name__}; the old name goes in {REMOVED_IN}",
            DeprecationWarning,
            stacklevel=2,
        )
        return func(*args, **kwargs)

    alias.__name__ = old_name
    alias.__qualname__ = old_name
    return alias


def positional_deprecated(*names: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Accept ``names`` (now keyword-only) positionally after the image, with a ``DeprecationWarning``.

    For functions whose options became keyword-only in 0.2 (``glcm_features(image, mask)`` is now
    ``glcm_features(image, mask=mask)``): old calls keep working for one release.
    """

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def wrapper(image: Any, *args: Any, **kwargs: Any) -> Any:
            if args:
                if len(args) > len(names):
                    raise TypeError(f"{func.__name__}() takes the image and keyword options only")
                given = dict(zip(names, args, strict=False))  # fewer args than names is fine
                twice = sorted(set(given) & set(kwargs))
                if twice:
                    raise TypeError(f"{func.__name__}() got multiple values for {twice}")
                warnings.warn(
                    f"{func.__name__}(): pass {', '.join(given)} by keyword; positional use goes in "
                    f"{REMOVED_IN}",
                    DeprecationWarning,
                    stacklevel=2,
                )
                kwargs.update(given)
            return func(image, **kwargs)

        return wrapper

    return decorate


def warn_deprecated(what: str, instead: str, *, stacklevel: int = 3) -> None:
    """One ``DeprecationWarning`` wording: "<what> is deprecated: <instead>; it goes in <release>"."""
    warnings.warn(
        f"{what} is deprecated: {instead}; it goes in {REMOVED_IN}", DeprecationWarning, stacklevel=stacklevel
    )
