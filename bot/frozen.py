"""``@frozen``: ``@dataclass(frozen=True)``, with methods that cost no compile but one.

Python 3.11 compiles every method a dataclass gets from text, one ``exec`` each: a frozen one
costs six (``__init__``, ``__repr__``, ``__eq__``, ``__hash__``, ``__setattr__``,
``__delattr__``), 0.45 ms a class. The bot's use-case results and views are over a hundred
such classes, all defined while ``patientbot run`` imports: about 50 ms of its start
(``benchmarks/bench_startup.py``). Here ``dataclasses`` still collects the fields (so
``fields``, ``replace``, ``asdict`` and pattern matching work as ever); ``__init__``, whose
signature names the fields, is compiled from text as dataclasses does it, and the other five
are closures over the field names, which need no compile. 127 classes: 57 ms with
``dataclass(frozen=True)``, 15 ms with ``frozen`` (``tests/unit/test_frozen.py`` holds the two
to the same behaviour).

Python 3.13 compiles a dataclass's methods in one ``exec`` (cheaper, not free): when the
project moves to it, measure again before keeping this.

Only what the bot uses is supported: fields with or without a default or a
``default_factory``, ``repr``/``compare``/``hash`` per field, ``__post_init__``. A class that
needs more (a dataclass base, ``kw_only``, ``InitVar``, a field left out of ``__init__``) is
refused when it is defined, with a sentence saying to use ``dataclass`` for it.
"""

from __future__ import annotations

import dataclasses
import inspect
import operator
import reprlib
from collections.abc import Callable
from typing import Any, TypeVar, dataclass_transform

_T = TypeVar("_T")

# Names the generated source refers to; prefixed so that no field can shadow them.
_OBJECT = "__frozen_object__"
_FACTORY_MARK = "__frozen_factory_mark__"


class _FactoryMark:
    """The default an ``__init__`` argument has when its field has a ``default_factory``."""

    def __repr__(self) -> str:
        return "<factory>"


_FACTORY = _FactoryMark()


@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field,))
def frozen(cls: type[_T]) -> type[_T]:
    """The class as ``@dataclass(frozen=True)`` makes it (see the module's docstring)."""
    _refuse_unsupported(cls)
    undocumented = cls.__doc__ is None
    if undocumented:
        # dataclasses would compute ``inspect.signature`` for a missing docstring: 0.06 ms.
        cls.__doc__ = ""
    # Fields, __match_args__, __dataclass_fields__; no method is compiled by this call.
    dataclasses.dataclass(init=False, repr=False, eq=False)(cls)
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    if undocumented:
        cls.__doc__ = _signature(cls.__name__, fields)
    _install(cls, fields)
    # What the class is, for dataclasses (a subclass made with dataclass checks it): the
    # methods of init, repr, eq and frozen, which this module wrote itself.
    cls.__dataclass_params__ = dataclasses._DataclassParams(  # type: ignore[attr-defined]
        True, True, True, False, False, True
    )
    return cls


def _refuse_unsupported(cls: type) -> None:
    def refuse(what: str) -> None:
        raise TypeError(
            f"@frozen cannot make {cls.__qualname__}: {what}; use @dataclass(frozen=True)"
        )

    if any(dataclasses.is_dataclass(base) for base in cls.__mro__[1:]):
        refuse("it inherits from a dataclass")
    for name, annotation in inspect.get_annotations(cls).items():
        text = annotation if isinstance(annotation, str) else repr(annotation)
        if "InitVar" in text or "KW_ONLY" in text:
            refuse(f"field {name} is an InitVar or KW_ONLY")
        spec = cls.__dict__.get(name)
        if isinstance(spec, dataclasses.Field) and (spec.kw_only is True or not spec.init):
            refuse(f"field {name} is keyword-only or left out of __init__")


def _signature(name: str, fields: tuple[dataclasses.Field[Any], ...]) -> str:
    """What dataclasses writes as the docstring of a class without one: ``Name(a: int, ...)``."""
    parts = []
    for field in fields:
        annotation = (
            field.type
            if isinstance(field.type, str)
            else getattr(field.type, "__name__", repr(field.type))
        )
        part = f"{field.name}: {annotation}"
        if field.default is not dataclasses.MISSING:
            part += f" = {field.default!r}"
        elif field.default_factory is not dataclasses.MISSING:
            part += " = <factory>"
        parts.append(part)
    return f"{name}({', '.join(parts)})"


def _install(cls: type, fields: tuple[dataclasses.Field[Any], ...]) -> None:
    own_hash = cls.__dict__.get("__hash__", dataclasses.MISSING)
    # Python sets __hash__ = None in a class that defines __eq__: that one is not the class's.
    keeps_hash = not (
        own_hash is dataclasses.MISSING or (own_hash is None and "__eq__" in cls.__dict__)
    )
    _set(cls, "__init__", _init(cls, fields))
    shown = tuple(f.name for f in fields if f.repr)
    compared = _values([f.name for f in fields if f.compare])
    hashed = _values([f.name for f in fields if (f.compare if f.hash is None else f.hash)])
    names = frozenset(f.name for f in fields)
    owner: type[Any] = cls

    # Closures over the class's field names, not compiled text: the same behaviour as the
    # methods dataclasses writes, without a compile each.
    @reprlib.recursive_repr()
    def __repr__(self: Any) -> str:
        shown_values = ", ".join(f"{name}={getattr(self, name)!r}" for name in shown)
        return f"{self.__class__.__qualname__}({shown_values})"

    def __eq__(self: Any, other: object) -> bool:
        if other.__class__ is self.__class__:
            return compared(self) == compared(other)
        return NotImplemented

    def __hash__(self: Any) -> int:
        return hash(hashed(self))

    def __setattr__(self: Any, name: str, value: object) -> None:
        if type(self) is owner or name in names:
            raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")
        super(owner, self).__setattr__(name, value)

    def __delattr__(self: Any, name: str) -> None:
        if type(self) is owner or name in names:
            raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")
        super(owner, self).__delattr__(name)

    methods: list[Callable[..., Any]] = [__repr__, __eq__, __setattr__, __delattr__]
    if not keeps_hash:
        methods.append(__hash__)
    for method in methods:
        method.__qualname__ = f"{cls.__qualname__}.{method.__name__}"
        _set(cls, method.__name__, method)


def _values(names: list[str]) -> Callable[[Any], tuple[Any, ...]]:
    """The named attributes of an object as one tuple (what __eq__ and __hash__ compare)."""
    if not names:
        return lambda _: ()
    if len(names) == 1:
        (only,) = names
        return lambda value: (getattr(value, only),)
    return operator.attrgetter(*names)


def _init(cls: type, fields: tuple[dataclasses.Field[Any], ...]) -> Callable[..., None]:
    """``__init__``, the one method whose signature names the fields: compiled from text."""
    namespace: dict[str, Any] = {"__name__": cls.__module__, _OBJECT: object}
    parameters = ["self"]
    body = []
    for field in fields:
        if field.default is not dataclasses.MISSING:
            namespace[f"__frozen_default_{field.name}__"] = field.default
            parameters.append(f"{field.name}=__frozen_default_{field.name}__")
            value = field.name
        elif field.default_factory is not dataclasses.MISSING:
            namespace[f"__frozen_factory_{field.name}__"] = field.default_factory
            namespace[_FACTORY_MARK] = _FACTORY
            parameters.append(f"{field.name}={_FACTORY_MARK}")
            value = (
                f"__frozen_factory_{field.name}__() if {field.name} is {_FACTORY_MARK} "
                f"else {field.name}"
            )
        else:
            parameters.append(field.name)
            value = field.name
        body.append(f" {_OBJECT}.__setattr__(self, {field.name!r}, {value})")
    if hasattr(cls, "__post_init__"):
        body.append(" self.__post_init__()")
    source = f"def __init__({', '.join(parameters)}):\n" + ("\n".join(body) or " pass")
    exec(source, namespace)  # our own text, built from field names as dataclasses does
    init: Callable[..., None] = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__annotations__ = {field.name: field.type for field in fields} | {"return": None}
    return init


def _set(cls: type, name: str, function: Callable[..., Any]) -> None:
    """Set as dataclasses would: a method the class defines itself stays."""
    if name in ("__setattr__", "__delattr__"):
        if name in cls.__dict__:
            raise TypeError(f"Cannot overwrite attribute {name} in class {cls.__name__}")
    elif name != "__hash__" and name in cls.__dict__:
        return
    setattr(cls, name, function)
