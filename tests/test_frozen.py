"""``@frozen`` makes the class ``@dataclass(frozen=True, slots=True)`` makes, for every crashplan class."""

from __future__ import annotations

import copy
import dataclasses
import importlib
import inspect
import pickle
import pkgutil
import sys
import textwrap
import types
from collections.abc import Callable
from pathlib import Path

import pytest

import crashplan
from crashplan import _frozen
from crashplan.host.facts import gather_facts
from crashplan.host.sources import open_source
from crashplan.planning.fleet import run_fleet

HOSTS = sorted(p for p in (Path(__file__).parent / "data" / "hosts").iterdir() if p.is_dir())

# Class bodies covering what crashplan's classes use: defaults, default factories, fields out of
# equality, hashing or repr, a property, inheritance, __post_init__, a class's own __init__.
CASES = {
    "plain": """
        class C:
            a: int
            b: str
        ARGS = [(1, "x"), (1, "y"), (2, "x")]
    """,
    "defaults": """
        class C:
            a: int
            b: int | None = None
            c: tuple[int, ...] = ()
            d: dict[str, int] = field(default_factory=dict, hash=False)
        ARGS = [(1,), (1, 2), (1, None, (3,)), (1, None, (), {"k": 1}), (1, None, (), {"k": 2})]
    """,
    "out-of-compare": """
        class C:
            a: int
            path: str = field(default="/proc/x", compare=False, repr=False)
            span: tuple[int, int] | None = field(default=None, compare=False)
        ARGS = [(1,), (1, "/other"), (2, "/proc/x", (0, 1))]
    """,
    "no-fields": """
        class C:
            pass
        ARGS = [()]
    """,
    "one-field": """
        class C:
            a: int

            @property
            def double(self) -> int:
                return 2 * self.a
        ARGS = [(1,), (2,), (-1,)]
    """,
    "post-init": """
        class C:
            a: int

            def __post_init__(self) -> None:
                if self.a < 0:
                    raise ValueError("negative")
        ARGS = [(1,), (2,)]
    """,
    # Past the ready-made __init__ functions (12 fields), and fields named like their setters.
    "thirteen-fields": """
        class C:
            a: int
            f1: int
            f2: int
            f3: int
            f4: int
            f5: int
            f6: int
            f7: int
            f8: int
            f9: int
            f10: int
            f11: int
            f12: int = 12
        ARGS = [tuple(range(12)), tuple(range(13)), tuple(range(1, 14))]
    """,
    "setter-names": """
        class C:
            a: int
            s0: int = 0
            a0: str = "x"
        ARGS = [(1,), (1, 2), (1, 2, "y")]
    """,
}


def _define(body: str, decorator: str) -> types.ModuleType:
    """Run ``body`` in a new module with ``decorator`` put above its class C."""
    module = types.ModuleType(f"frozen_case_{abs(hash((body, decorator)))}")
    sys.modules[module.__name__] = module  # dataclasses looks the module up for string annotations
    source = "from __future__ import annotations\nfrom dataclasses import dataclass, field\n"
    source += "from crashplan._frozen import frozen\n"
    source += textwrap.dedent(body).replace("class C", f"{decorator}\nclass C", 1)
    exec(compile(source, module.__name__, "exec"), module.__dict__)
    return module


def _params(cls: type) -> dict[str, object]:
    params = cls.__dataclass_params__  # type: ignore[attr-defined]
    return {name: getattr(params, name) for name in type(params).__slots__}


def _fields(cls: type) -> list[tuple[object, ...]]:
    return [
        (f.name, f.type, f.default, f.default_factory, f.init, f.repr, f.hash, f.compare, f.kw_only)
        for f in dataclasses.fields(cls)  # type: ignore[arg-type]
    ]


def _signature(cls: type) -> list[tuple[str, object, str]]:
    """The parameters of ``cls()``, defaults as help() shows them (a factory as ``<factory>``)."""
    return [(p.name, p.kind, repr(p.default)) for p in inspect.signature(cls).parameters.values()]


def _outcome(call: Callable[[], object]) -> object:
    """What ``call`` returns, or the type and message of what it raises."""
    try:
        return call()
    except Exception as e:  # the exception is the outcome compared
        return (type(e), str(e))


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_class_as_dataclass(case: str) -> None:
    """Both decorators give the same fields, signature, slots, params, repr, equality, hashing and immutability."""
    ours = _define(CASES[case], "@frozen")
    theirs = _define(CASES[case], "@dataclass(frozen=True, slots=True)")
    a, b = ours.C, theirs.C
    assert _fields(a) == _fields(b)
    assert _signature(a) == _signature(b)
    assert _params(a) == _params(b)
    assert a.__slots__ == b.__slots__ and a.__match_args__ == b.__match_args__
    assert "__dict__" not in dir(a(*ours.ARGS[0]))
    ours_objects = [a(*args) for args in ours.ARGS]
    theirs_objects = [b(*args) for args in theirs.ARGS]
    for x, y in zip(ours_objects, theirs_objects, strict=True):
        assert repr(x) == repr(y)
        assert _outcome(lambda x=x: hash(x)) == _outcome(lambda y=y: hash(y))
        if _fields(a):
            assert _outcome(lambda x=x: setattr(x, "a", 9)) == _outcome(lambda y=y: setattr(y, "a", 9))
            assert _outcome(lambda x=x: delattr(x, "a")) == _outcome(lambda y=y: delattr(y, "a"))
        # Any other name: CPython 3.11's own __setattr__ fails with a TypeError (its super() call
        # names the class before slots were added), @frozen's with FrozenInstanceError.
        assert _outcome(lambda x=x: setattr(x, "zz", 9)) == (dataclasses.FrozenInstanceError, "cannot assign to field 'zz'")
        with pytest.raises((dataclasses.FrozenInstanceError, TypeError)):
            y.zz = 9
        assert dataclasses.asdict(x) == dataclasses.asdict(y)
        for clone in (copy.copy(x), copy.deepcopy(x), pickle.loads(pickle.dumps(x)), dataclasses.replace(x)):
            assert clone == x and hash(clone) == hash(x) and clone is not x
    for i, (x, y) in enumerate(zip(ours_objects, theirs_objects, strict=True)):
        for j, (x2, y2) in enumerate(zip(ours_objects, theirs_objects, strict=True)):
            assert (x == x2) == (y == y2), (i, j)
            assert (x != x2) == (y != y2), (i, j)
            if x == x2:
                assert hash(x) == hash(x2)
        assert x != object() and x != ()
        assert (x == y) is False  # different classes are never equal, like two dataclasses


@pytest.mark.parametrize("case", sorted(CASES))
def test_calls_bind_like_dataclass(case: str) -> None:
    """Keyword, missing, extra and repeated arguments give the same object or the same TypeError."""
    ours = _define(CASES[case], "@frozen")
    theirs = _define(CASES[case], "@dataclass(frozen=True, slots=True)")
    names = [f.name for f in dataclasses.fields(ours.C)]
    args = ours.ARGS[-1]
    calls: list[tuple[tuple[object, ...], dict[str, object]]] = [
        ((), {}),
        ((), dict(zip(names, args, strict=False))),
        (args, {}),
        ((*args, 99), {}),
        (args[:1], {"zz": 1}),
    ]
    if names:
        calls.append((args, {names[0]: args[0]}))
    for pos, kw in calls:
        mine = _outcome(lambda pos=pos, kw=kw: ours.C(*pos, **kw))
        twin = _outcome(lambda pos=pos, kw=kw: theirs.C(*pos, **kw))
        assert repr(mine) == repr(twin), (pos, kw)


def test_post_init_runs() -> None:
    """__post_init__ runs after the fields are set, as with @dataclass."""
    ours = _define(CASES["post-init"], "@frozen")
    with pytest.raises(ValueError, match="negative"):
        ours.C(-1)


def test_default_factory_gives_each_object_its_own_value() -> None:
    """A field(default_factory=...) is called once per object, not shared."""
    ours = _define(CASES["defaults"], "@frozen")
    assert ours.C(1).d is not ours.C(1).d


def test_subclass_of_a_frozen_class() -> None:
    """A @frozen class may extend another: fields are inherited and both stay frozen."""
    base = _define(CASES["plain"], "@frozen")
    sub = _frozen.frozen(type("D", (base.C,), {"__annotations__": {"c": "int"}, "__module__": base.__name__}))
    d = sub("1", "x", 3)  # type: ignore[call-arg]
    assert (d.a, d.b, d.c) == ("1", "x", 3)
    assert _params(sub)["frozen"] is True
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.c = 4  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "line", ["a: int = field(default=0, init=False)", "a: int = field(default=0, kw_only=True)", "a: InitVar[int]"]
)
def test_error_unsupported_field(line: str) -> None:
    """A field @frozen cannot build an __init__ for is refused when the class is defined."""
    with pytest.raises(TypeError, match="not supported"):
        _define(f"from dataclasses import InitVar\nclass C:\n    {line}\n", "@frozen")


def test_class_variables_are_not_fields() -> None:
    """A ClassVar annotation stays a class attribute, as with @dataclass."""
    ours = _define("from typing import ClassVar\nclass C:\n    K: ClassVar[int] = 3\n    a: int\n", "@frozen")
    assert ours.C(1).K == 3 and _signature(ours.C) == [("a", inspect.Parameter.POSITIONAL_OR_KEYWORD, "<class 'inspect._empty'>")]


def _modules() -> list[types.ModuleType]:
    """Every module of the crashplan package but __main__ (which runs the command line)."""
    names = [info.name for info in pkgutil.walk_packages(crashplan.__path__, "crashplan.")]
    return [importlib.import_module(name) for name in names if not name.endswith("__main__")]


def _frozen_classes() -> list[type]:
    """Every class of the crashplan package made by @frozen."""
    found: dict[str, type] = {}
    for module in _modules():
        for obj in vars(module).values():
            if inspect.isclass(obj) and obj.__dict__.get("__setattr__") is _frozen._setattr:
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return [found[name] for name in sorted(found)]


CLASSES = _frozen_classes()


# The modules on the start-up path of `crashplan explain`, where @frozen keeps the
# 1.3x target (benchmarks/startup.py); everywhere else crashplan uses the standard decorator.
_STARTUP_PATH = ("crashplan.kernel.", "crashplan.units", "crashplan.values")


def test_frozen_is_used_only_on_the_startup_path() -> None:
    """@frozen makes the start-up path's classes and no other; every other dataclass is frozen with slots."""
    assert CLASSES, "the start-up path keeps @frozen"
    for cls in CLASSES:
        assert cls.__module__.startswith(_STARTUP_PATH), f"{cls.__qualname__}: use @dataclass(frozen=True, slots=True)"
    for module in _modules():
        for obj in vars(module).values():
            if inspect.isclass(obj) and dataclasses.is_dataclass(obj) and obj.__module__ == module.__name__:
                if obj.__name__ == "Raw":  # profiles.load's mutable build state, by design
                    continue
                assert obj.__dataclass_params__.frozen and "__slots__" in obj.__dict__, obj.__qualname__  # type: ignore[attr-defined]


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: f"{c.__module__}.{c.__qualname__}")
def test_crashplan_class_matches_its_dataclass_twin(cls: type) -> None:
    """Each crashplan class has the fields, signature and params @dataclass(frozen=True, slots=True) gives."""
    init = _params(cls)["init"]
    own = inspect.get_annotations(cls)
    twin = dataclasses.make_dataclass(
        cls.__name__,
        [(f.name, f.type, copy.copy(f)) for f in dataclasses.fields(cls) if f.name in own],  # type: ignore[arg-type]
        bases=tuple(b for b in cls.__bases__ if b is not object),
        frozen=True,
        slots=True,
        init=init,
        namespace={"__module__": cls.__module__},
    )
    assert _fields(cls) == _fields(twin)
    assert _params(cls) == _params(twin)
    assert cls.__slots__ == twin.__slots__ and cls.__match_args__ == twin.__match_args__  # type: ignore[attr-defined]
    if init:
        assert _signature(cls) == _signature(twin)


@pytest.mark.parametrize("host", HOSTS, ids=lambda p: p.name)
def test_real_results_survive_pickle_and_copy(host: Path) -> None:
    """A real host's fleet result (sent between processes) pickles, and its facts copy, to equal values."""
    (result,) = run_fleet([str(host)], jobs=1)
    assert pickle.loads(pickle.dumps(result)) == result
    facts = gather_facts(open_source(str(host)))
    assert copy.copy(facts) == facts
