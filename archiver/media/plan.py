"""Which class goes on which volume: pure planning over sizes.

The unit is a :class:`Group`: every version of one class's package (its bag folders and
their labels), which is never split across volumes. Groups are taken in their order
(school year first, then school, class), first fit: each volume takes, in order, every
group that still fits; a group that does not fit waits for the next volume, which starts
with it. So the volumes follow the years (each volume's first year is no earlier than
the one before it's) and a volume closes only when no remaining group fits in what is
left of it: when every group is at most 5 % of the capacity, every volume but the last
is at least 95 % full. When bigger groups leave a volume short of the fill target, the
best combination of the next groups that starts with the first waiting one is searched
(a bounded branch and bound, deterministic), and taken if it reaches the target: a
fuller volume is then worth a class taken out of order; a little more fill is not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

#: Groups looked at, and search steps taken, when a volume is improved past first fit.
SEARCH_GROUPS = 40
SEARCH_STEPS = 200_000


@dataclass(frozen=True)
class Group:
    """A class's package versions: ``size`` is what they take on a volume, in bytes
    (their files at the medium's allocation, with their share of the volume's index,
    site and checksums)."""

    key: str
    size: int
    order: tuple = ()
    year: str = ""
    members: tuple[str, ...] = ()


@dataclass(frozen=True)
class Volume:
    number: int
    groups: tuple[Group, ...]

    @property
    def size(self) -> int:
        return sum(g.size for g in self.groups)

    @property
    def years(self) -> list[str]:
        return sorted({g.year for g in self.groups})


@dataclass(frozen=True)
class Plan:
    volumes: tuple[Volume, ...]
    capacity: int  # bytes each volume may give its groups

    @property
    def count(self) -> int:
        return len(self.volumes)


class GroupTooLarge(Exception):
    """Groups larger than a whole volume: they cannot be written to this medium."""

    def __init__(self, groups: Sequence[Group], capacity: int) -> None:
        super().__init__(", ".join(g.key for g in groups))
        self.groups = tuple(groups)
        self.capacity = capacity


def ordered(groups: Iterable[Group]) -> list[Group]:
    return sorted(groups, key=lambda g: (g.order, g.key))


def plan_volumes(groups: Iterable[Group], capacity: int, target: int = 0) -> Plan:
    """Volumes of at most ``capacity`` bytes of groups each; ``target``: the bytes of
    groups a volume should hold (its fill target, less its fixed content) before a
    search for a better combination is worth it. ``capacity`` 0: one volume for all."""
    waiting = ordered(groups)
    if not capacity:
        return Plan((Volume(1, tuple(waiting)),) if waiting else (), 0)
    too_large = [g for g in waiting if g.size > capacity]
    if too_large:
        raise GroupTooLarge(too_large, capacity)
    volumes: list[Volume] = []
    while waiting:
        chosen = _first_fit(waiting, capacity)
        if sum(g.size for g in chosen) < target and len(chosen) < len(waiting):
            better = _best_fill(waiting, capacity)
            if sum(g.size for g in better) >= target:  # else the order is worth more than a little fill
                chosen = better
        taken = {id(g) for g in chosen}
        volumes.append(Volume(len(volumes) + 1, tuple(chosen)))
        waiting = [g for g in waiting if id(g) not in taken]
    return Plan(tuple(volumes), capacity)


def _first_fit(waiting: list[Group], capacity: int) -> list[Group]:
    chosen, free = [], capacity
    for group in waiting:
        if group.size <= free:
            chosen.append(group)
            free -= group.size
    return chosen


def _best_fill(waiting: list[Group], capacity: int) -> list[Group]:
    """The fullest combination of the first :data:`SEARCH_GROUPS` waiting groups that
    holds the first of them (so the order of years is kept), within a bounded search;
    among equals, the one found first (earlier groups preferred)."""
    first, rest = waiting[0], waiting[1:SEARCH_GROUPS]
    sizes = [g.size for g in rest]
    # what the groups from i on could add at most: prunes branches that cannot win
    tail = [0] * (len(sizes) + 1)
    for i in range(len(sizes) - 1, -1, -1):
        tail[i] = tail[i + 1] + sizes[i]
    best_total, best_pick = first.size, []
    steps = 0
    stack: list[tuple[int, int, tuple[int, ...]]] = [(0, first.size, ())]
    while stack and steps < SEARCH_STEPS:
        steps += 1
        i, total, pick = stack.pop()
        if total > best_total:
            best_total, best_pick = total, list(pick)
            if total == capacity:
                break
        if i == len(sizes) or total + tail[i] <= best_total:
            continue
        stack.append((i + 1, total, pick))  # without group i (explored after the branch with it)
        if total + sizes[i] <= capacity:
            stack.append((i + 1, total + sizes[i], pick + (i,)))
    return [first] + [rest[i] for i in best_pick]
