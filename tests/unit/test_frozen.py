"""``bot.frozen.frozen`` behaves as ``dataclass(frozen=True)`` wherever the bot could notice.

Each check runs against both decorators, so a difference shows as a failure of ours alone.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import pickle
from collections.abc import Callable
from typing import Any

import pytest

from bot.frozen import frozen

DECORATORS: dict[str, Callable[[type], type]] = {
    "dataclass": dataclasses.dataclass(frozen=True),
    "frozen": frozen,
}


def shapes(decorate: Callable[[type], type]) -> dict[str, type]:
    """The kinds of class the bot defines: made fresh for each decorator."""

    class Empty:
        pass

    class One:
        """A documented class."""

        value: int

    class Mixed:
        name: str
        count: int = 0
        tags: list[str] = dataclasses.field(default_factory=list)
        hidden: str = dataclasses.field(default="secret", repr=False)
        noted: str = dataclasses.field(default="", compare=False)

        def greeting(self) -> str:
            return f"hello {self.name}"

    class Checked:
        low: int
        high: int
        seen: list[str] = dataclasses.field(default_factory=list, compare=False)

        def __post_init__(self) -> None:
            if self.low > self.high:
                raise ValueError("low above high")
            object.__setattr__(self, "seen", [*self.seen, "checked"])

    class OwnMethods:
        value: int

        def __eq__(self, other: object) -> bool:
            return isinstance(other, OwnMethods) and other.value % 10 == self.value % 10

        def __hash__(self) -> int:
            return self.value % 10

        def __repr__(self) -> str:
            return "own"

    class EqOnly:
        value: int

        def __eq__(self, other: object) -> bool:
            return True

    return {
        name: decorate(cls)
        for name, cls in {
            "Empty": Empty,
            "One": One,
            "Mixed": Mixed,
            "Checked": Checked,
            "OwnMethods": OwnMethods,
            "EqOnly": EqOnly,
        }.items()
    }


def both(check: Callable[[dict[str, type]], Any]) -> None:
    """The check's answers for both decorators are the same (and the check itself ran)."""
    answers = {name: check(shapes(decorate)) for name, decorate in DECORATORS.items()}
    assert answers["frozen"] == answers["dataclass"], answers


def outcome(action: Callable[[], Any]) -> Any:
    """What an action returns, or the type and message of what it raises."""
    try:
        return ("returned", action())
    except Exception as error:
        return ("raised", type(error).__name__, str(error))


def test_construction_defaults_and_factories() -> None:
    def check(c: dict[str, type]) -> Any:
        first, second = c["Mixed"]("a"), c["Mixed"]("b")
        second.tags.append("x")
        return (
            vars(first),
            first.tags is not second.tags,
            vars(c["Mixed"]("a", 2, ["t"], "h", "n")),
            vars(c["Mixed"](name="a", noted="n", count=3)),
            outcome(lambda: c["Mixed"]()),
            outcome(lambda: c["Mixed"]("a", nope=1)),
            outcome(lambda: c["One"](1, 2)),
            vars(c["Empty"]()),
        )

    both(check)


def test_post_init_runs_and_may_refuse() -> None:
    def check(c: dict[str, type]) -> Any:
        return (
            c["Checked"](1, 2).seen,
            outcome(lambda: c["Checked"](3, 2)),
        )

    both(check)


def test_repr_shows_fields_except_hidden_ones() -> None:
    def check(c: dict[str, type]) -> Any:
        mixed = c["Mixed"]("a", tags=["t"])
        nested = c["One"](c["One"]([1]))
        return (
            repr(mixed).split(".")[-1],
            repr(nested).replace("shapes.<locals>.", ""),
            repr(c["Empty"]()).split(".")[-1],
            repr(c["OwnMethods"](1)),
        )

    both(check)


def test_equality_and_hash() -> None:
    def check(c: dict[str, type]) -> Any:
        mixed = c["Mixed"]
        one = c["One"]
        return (
            mixed("a", 1) == mixed("a", 1),
            mixed("a", 1) == mixed("a", 2),
            mixed("a", noted="x") == mixed("a", noted="y"),
            hash(one(1)) == hash(one(1)),
            one(1) == c["Checked"](1, 1),
            one(1) == 1,
            one(1) != one(2),
            len({one(1), one(1), one(2)}),
            c["Empty"]() == c["Empty"](),
            hash(c["Empty"]()) == hash(c["Empty"]()),
            c["OwnMethods"](1) == c["OwnMethods"](11),
            hash(c["OwnMethods"](11)),
            c["EqOnly"](1) == c["EqOnly"](2),
            outcome(lambda: hash(c["EqOnly"](1)) == hash(c["EqOnly"](1))),
            outcome(lambda: hash(mixed("a"))),
        )

    both(check)


def test_fields_cannot_be_assigned_or_deleted() -> None:
    def check(c: dict[str, type]) -> Any:
        one = c["One"](1)
        return (
            outcome(lambda: setattr(one, "value", 2)),
            outcome(lambda: delattr(one, "value")),
            outcome(lambda: setattr(one, "other", 2)),
            one.value,
        )

    both(check)


def test_dataclasses_functions_and_matching() -> None:
    def check(c: dict[str, type]) -> Any:
        mixed_class = c["Mixed"]
        mixed = mixed_class("a", 1, ["t"])
        match mixed:
            case mixed_class(name, count):
                matched = (name, count)
            case _:
                matched = None
        return (
            dataclasses.is_dataclass(mixed),
            [f.name for f in dataclasses.fields(mixed)],
            dataclasses.asdict(mixed),
            dataclasses.astuple(c["One"](5)),
            vars(dataclasses.replace(mixed, count=9)),
            outcome(lambda: dataclasses.replace(c["Checked"](1, 2), low=5)),
            c["Mixed"].__match_args__,
            matched,
            mixed.greeting(),
            c["One"].__doc__,
            str(inspect.signature(c["Mixed"])),
            repr(c["Mixed"].__dataclass_params__),  # type: ignore[attr-defined]
        )

    both(check)


def test_copies_and_pickles_like_a_dataclass() -> None:
    # Module-level classes pickle; the shapes above are local, so these two stand in for them.
    for made in (PickledByFrozen(1, ("a",)), PickledByDataclass(1, ("a",))):
        assert pickle.loads(pickle.dumps(made)) == made
        assert copy.deepcopy(made) == made


@frozen
class PickledByFrozen:
    value: int
    names: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class PickledByDataclass:
    value: int
    names: tuple[str, ...]


def test_a_dataclass_may_derive_from_it() -> None:
    def check(c: dict[str, type]) -> Any:
        child = dataclasses.dataclass(frozen=True)(
            type("Child", (c["Mixed"],), {"__annotations__": {"extra": "int"}, "extra": 5})
        )
        made = child("a", 1)
        return (vars(made), outcome(lambda: setattr(made, "extra", 6)), made == child("a", 1))

    both(check)


def test_undocumented_class_gets_its_signature_as_docstring() -> None:
    @frozen
    class Plain:
        value: int
        label: str = "x"
        items: list[int] = dataclasses.field(default_factory=list)

    assert Plain.__doc__ == "Plain(value: int, label: str = 'x', items: list[int] = <factory>)"


def test_what_it_does_not_support_is_refused_when_defined() -> None:
    @dataclasses.dataclass(frozen=True)
    class Base:
        a: int

    with pytest.raises(TypeError, match=r"cannot make .*Child: it inherits from a dataclass"):

        @frozen
        class Child(Base):
            b: int

    with pytest.raises(TypeError, match=r"cannot make .*KeywordOnly: field b is keyword-only"):

        @frozen
        class KeywordOnly:
            b: int = dataclasses.field(kw_only=True)

    with pytest.raises(TypeError, match=r"cannot make .*Later: field b is an InitVar"):

        @frozen
        class Later:
            b: dataclasses.InitVar[int]
