"""``@frozen``: a frozen slots dataclass, defined in a third of the time ``@dataclass`` takes.

crashplan's results are frozen dataclasses with slots (STYLE.md 11), made by the standard
``@dataclass(frozen=True, slots=True)`` everywhere but on the start-up path of ``crashplan
explain`` (``crashplan.kernel``, ``units``, ``values``), where this decorator keeps the command
within 1.3x of ``import click`` (``benchmarks/startup.py``: explain 1.25-1.30 with it, 1.34
with the standard decorator on every class; the ready-made ``__init__`` below is 0.025 of that,
counted in instructions with valgrind; ``--help`` imports none of these modules).  On CPython
3.11 the standard decorator compiles each generated method on its own, about a millisecond a
class.

``@frozen`` makes the same class in about a third of that time (``Zone``: 0.54 ms against
1.76 ms, measured in one loop).  The standard decorator still collects the fields (the
``field()`` options, defaults, inheritance), makes the slots and sets ``__match_args__``; with
``init``, ``repr`` and ``eq`` off it compiles nothing.  So ``dataclasses.fields()``,
``replace()``, ``asdict()`` and ``is_dataclass()`` work as usual.  This module then adds:

* ``__init__``, storing each field through its slot's member descriptor instead of
  ``object.__setattr__`` (twice as fast to call): for up to 12 fields without a default factory
  or ``__post_init__`` (every crashplan class) a ready-made function for that many fields whose
  parameters are renamed after the fields, so nothing is compiled; otherwise compiled from its
  text like the standard one (the only ``exec()``);
* ``__repr__``, ``__eq__`` and ``__hash__`` made without compiling, from the names of the fields
  each uses; they return what the standard ones return (the same tuples are compared and hashed);
* ``__setattr__`` and ``__delattr__`` that raise :class:`dataclasses.FrozenInstanceError`, and
  ``__getstate__``/``__setstate__`` so that copies and pickles (``crashplan fleet`` sends
  results between processes) are built without them, as the standard decorator does;
* ``__dataclass_params__`` as ``@dataclass(frozen=True, slots=True)`` records it.

Fields that are ``init=False``, ``kw_only`` or an ``InitVar`` are not supported and raise
:class:`TypeError` when the class is defined; ``__post_init__`` is called as usual.  A test
defines every crashplan class both ways and compares the two.

>>> @frozen
... class Area:
...     start: int
...     size: int = 0
>>> Area(1, 2), Area(1, 2) == Area(1, 2), hash(Area(1)) == hash(Area(1, 0))
(Area(start=1, size=2), True, True)
>>> Area(1).size = 3
Traceback (most recent call last):
...
dataclasses.FrozenInstanceError: cannot assign to field 'size'
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import MISSING, FrozenInstanceError
from operator import attrgetter
from types import FunctionType
from typing import Any, TypeVar, dataclass_transform, overload

__all__ = ["frozen"]

_T = TypeVar("_T")


@overload
def frozen(cls: type[_T], /) -> type[_T]: ...
@overload
def frozen(*, init: bool = True) -> Callable[[type[_T]], type[_T]]: ...


@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field, dataclasses.Field))
def frozen(cls: type[_T] | None = None, /, *, init: bool = True) -> Any:
    """Make ``cls`` a frozen slots dataclass; ``init=False`` keeps the class's own ``__init__``."""

    def wrap(cls: type[_T]) -> type[_T]:
        return _build(cls, init)

    return wrap if cls is None else wrap(cls)


def _build(cls: type[_T], init: bool) -> type[_T]:
    # A dataclass base is frozen (params below): the standard decorator requires the same of
    # its subclasses, and then compiles their __setattr__ and __delattr__ (replaced below).
    subclass = any(dataclasses.is_dataclass(base) for base in cls.__mro__[1:])
    cls = dataclasses.dataclass(cls, init=False, repr=False, eq=False, frozen=subclass, slots=True)
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    _check_supported(cls, fields)
    methods = {
        "__repr__": _repr([f.name for f in fields if f.repr]),
        "__eq__": _eq(_key([f.name for f in fields if f.compare])),
        "__hash__": _hash(_key([f.name for f in fields if (f.compare if f.hash is None else f.hash)])),
    }
    if init:
        methods["__init__"] = _init(cls, fields)
    for name, method in methods.items():
        method.__qualname__ = f"{cls.__qualname__}.{name}"
        setattr(cls, name, method)
    for name, method in _SHARED.items():
        setattr(cls, name, method)
    cls.__dataclass_params__ = _params(cls.__dataclass_params__, init)  # type: ignore[attr-defined]
    return cls


def _init(cls: type, fields: tuple[dataclasses.Field[Any], ...]) -> Callable[..., None]:
    """``__init__``: each argument (or default) stored through its slot's member descriptor.

    With no default factory and no ``__post_init__`` (every crashplan class), it is the function
    of :data:`_STORES` for that many fields, its parameters renamed after the fields: nothing
    is compiled.  Otherwise it is compiled from its text.
    """
    setters = [getattr(cls, f.name).__set__ for f in fields]
    names = [f.name for f in fields]
    if len(fields) >= len(_STORES) or hasattr(cls, "__post_init__") or any(f.default_factory is not MISSING for f in fields):
        return _compile_init(cls, fields, setters)
    made = _STORES[len(fields)](*setters)
    if not {"self", *made.__code__.co_freevars}.isdisjoint(names):  # a field named self or s0...
        return _compile_init(cls, fields, setters)
    code = made.__code__.replace(co_name="__init__", co_varnames=("self", *names))
    defaults = tuple(f.default for f in fields if f.default is not MISSING)
    return FunctionType(code, made.__globals__, "__init__", defaults or None, made.__closure__)


# __init__ for 0 to 12 fields, given the slots' setters s0, s1, ...: a setter returns None, so
# each chain of `or` runs every store and returns None.
_STORES: tuple[Callable[..., Any], ...] = (
    lambda: lambda self: None,
    lambda s0: lambda self, a0: s0(self, a0),
    lambda s0, s1: lambda self, a0, a1: s0(self, a0) or s1(self, a1),
    lambda s0, s1, s2: lambda self, a0, a1, a2: s0(self, a0) or s1(self, a1) or s2(self, a2),
    lambda s0, s1, s2, s3: lambda self, a0, a1, a2, a3: s0(self, a0) or s1(self, a1) or s2(self, a2) or s3(self, a3),
    lambda s0, s1, s2, s3, s4: lambda self, a0, a1, a2, a3, a4: s0(self, a0) or s1(self, a1) or s2(self, a2) or s3(self, a3) or s4(self, a4),
    lambda s0, s1, s2, s3, s4, s5: lambda self, a0, a1, a2, a3, a4, a5: s0(self, a0) or s1(self, a1) or s2(self, a2) or s3(self, a3) or s4(self, a4) or s5(self, a5),
    lambda s0, s1, s2, s3, s4, s5, s6: lambda self, a0, a1, a2, a3, a4, a5, a6: s0(self, a0) or s1(self, a1) or s2(self, a2) or s3(self, a3) or s4(self, a4) or s5(self, a5) or s6(self, a6),
    lambda s0, s1, s2, s3, s4, s5, s6, s7: lambda self, a0, a1, a2, a3, a4, a5, a6, a7: s0(self, a0) or s1(self, a1) or s2(self, a2) or s3(self, a3) or s4(self, a4) or s5(self, a5) or s6(self, a6) or s7(self, a7),
    lambda s0, s1, s2, s3, s4, s5, s6, s7, s8: lambda self, a0, a1, a2, a3, a4, a5, a6, a7, a8: s0(self, a0) or s1(self, a1) or s2(self, a2) or s3(self, a3) or s4(self, a4) or s5(self, a5) or s6(self, a6) or s7(self, a7) or s8(self, a8),
    lambda s0, s1, s2, s3, s4, s5, s6, s7, s8, s9: lambda self, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9: s0(self, a0) or s1(self, a1) or s2(self, a2) or s3(self, a3) or s4(self, a4) or s5(self, a5) or s6(self, a6) or s7(self, a7) or s8(self, a8) or s9(self, a9),
    lambda s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10: lambda self, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10: s0(self, a0) or s1(self, a1) or s2(self, a2) or s3(self, a3) or s4(self, a4) or s5(self, a5) or s6(self, a6) or s7(self, a7) or s8(self, a8) or s9(self, a9) or s10(self, a10),
    lambda s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11: lambda self, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11: s0(self, a0) or s1(self, a1) or s2(self, a2) or s3(self, a3) or s4(self, a4) or s5(self, a5) or s6(self, a6) or s7(self, a7) or s8(self, a8) or s9(self, a9) or s10(self, a10) or s11(self, a11),
)


def _compile_init(cls: type, fields: tuple[dataclasses.Field[Any], ...], setters: list[Callable[[object, object], None]]) -> Callable[..., None]:
    """``__init__`` compiled from its text (default factories, ``__post_init__``, many fields)."""
    namespace: dict[str, Any] = {"_FACTORY": _FACTORY}
    params, body = [], []
    for i, f in enumerate(fields):
        namespace[f"_set{i}"] = setters[i]
        value = f.name
        if f.default is not MISSING:
            namespace[f"_default{i}"] = f.default
            params.append(f"{f.name}=_default{i}")
        elif f.default_factory is not MISSING:
            namespace[f"_factory{i}"] = f.default_factory
            params.append(f"{f.name}=_FACTORY")
            value = f"_factory{i}() if {f.name} is _FACTORY else {f.name}"
        else:
            params.append(f.name)
        body.append(f"    _set{i}(self, {value})\n")
    if hasattr(cls, "__post_init__"):
        body.append("    self.__post_init__()\n")
    # The text holds only field names and names bound in the namespace above.
    exec(f"def __init__(self, {', '.join(params)}):\n{''.join(body) or '    pass'}", namespace)
    return namespace["__init__"]  # type: ignore[no-any-return]


def _check_supported(cls: type, fields: tuple[dataclasses.Field[Any], ...]) -> None:
    """Raise TypeError for a field the __init__ made here would not handle as dataclasses does."""
    unsupported = [f.name for f in fields if not f.init or f.kw_only]
    # fields() leaves out the ClassVar and InitVar pseudo-fields; an InitVar is an argument.
    unsupported += [
        name
        for name, f in cls.__dataclass_fields__.items()  # type: ignore[attr-defined]
        if f not in fields and "InitVar" in str(f.type)
    ]
    if unsupported:
        raise TypeError(
            f"@frozen {cls.__qualname__}: init=False, kw_only and InitVar fields are not supported "
            f"({', '.join(unsupported)})"
        )


def _params(made: Any, init: bool) -> Any:
    """What ``@dataclass(frozen=True, slots=True, init=init)`` records, from what was made.

    The record's type is private to dataclasses; it is copied field by field (its
    ``__slots__``, which differ between Python versions) rather than constructed.
    """
    params = object.__new__(type(made))
    for name in type(made).__slots__:
        setattr(params, name, getattr(made, name))
    params.init, params.repr, params.eq, params.frozen = init, True, True, True
    return params


def _key(names: list[str]) -> Callable[[object], tuple[object, ...]]:
    """The values of ``names`` of an object, as a tuple (what __eq__ and __hash__ compare)."""
    if not names:
        return lambda obj: ()
    if len(names) == 1:
        get = attrgetter(names[0])
        return lambda obj: (get(obj),)
    return attrgetter(*names)  # type: ignore[return-value]


def _repr(names: list[str]) -> Callable[[object], str]:
    def __repr__(self: object) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
        return f"{self.__class__.__qualname__}({fields})"

    return __repr__


def _eq(key: Callable[[object], tuple[object, ...]]) -> Callable[[object, object], bool]:
    def __eq__(self: object, other: object) -> bool:
        if other.__class__ is self.__class__:
            return key(self) == key(other)
        return NotImplemented

    return __eq__


def _hash(key: Callable[[object], tuple[object, ...]]) -> Callable[[object], int]:
    def __hash__(self: object) -> int:
        return hash(key(self))

    return __hash__


def _setattr(self: object, name: str, value: object) -> None:
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def _delattr(self: object, name: str) -> None:
    raise FrozenInstanceError(f"cannot delete field {name!r}")


def _getstate(self: object) -> list[object]:
    return [getattr(self, f.name) for f in dataclasses.fields(self)]  # type: ignore[arg-type]


def _setstate(self: object, state: list[object]) -> None:
    for f, value in zip(dataclasses.fields(self), state, strict=True):  # type: ignore[arg-type]
        object.__setattr__(self, f.name, value)


class _Factory:
    """The default of a parameter whose field has a default factory (shown as ``<factory>``)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<factory>"


_FACTORY = _Factory()

# The methods every @frozen class shares.
_SHARED = {"__setattr__": _setattr, "__delattr__": _delattr, "__getstate__": _getstate, "__setstate__": _setstate}
