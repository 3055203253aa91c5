"""Groups of enrolled people (a class, a shift, a team): who to expect in an attendance report,
and whose events a webhook hears of. A group exists while it has members."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from facerec.errors import UnknownPersonError
from facerec.store import audit
from facerec.store.models import GroupMember, Person
from facerec.store.names import check_name
from facerec.store.people import find_person

if TYPE_CHECKING:
    from facerec.store.repository import Store


def members_in(session: Session, group: str) -> list[str]:
    """The names of ``group``'s members, sorted, read in a caller's transaction."""
    rows = session.scalars(
        select(Person.name)
        .join(GroupMember, GroupMember.person_id == Person.id)
        .where(GroupMember.group_name == group)
        .order_by(Person.name)
    )
    return list(rows)


class Groups:
    """The groups of one store, one transaction a call."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def add(self, group: str, names: Sequence[str]) -> list[str]:
        """Put enrolled people in ``group`` (created by its first member). Returns its members."""
        group = check_name(group, "group")
        with self.store.transaction() as session:
            for name in names:
                person = find_person(session, name)
                if session.get(GroupMember, (group, person.id)) is None:
                    session.add(GroupMember(group_name=group, person_id=person.id))
            session.flush()
            audit.write(session, "group_add", group, people=[check_name(n) for n in names])
            return members_in(session, group)

    def remove(self, group: str, names: Sequence[str]) -> list[str]:
        """Take people out of ``group`` (a group without members is gone). Returns its members."""
        group = check_name(group, "group")
        with self.store.transaction() as session:
            for name in names:
                person = find_person(session, name)
                session.execute(
                    delete(GroupMember).where(GroupMember.group_name == group, GroupMember.person_id == person.id)
                )
            audit.write(session, "group_remove", group, people=[check_name(n) for n in names])
            return members_in(session, group)

    def all(self) -> dict[str, list[str]]:
        """Every group with its members (names, sorted)."""
        with self.store.reading() as session:
            rows = session.execute(
                select(GroupMember.group_name, Person.name)
                .join(Person, Person.id == GroupMember.person_id)
                .order_by(GroupMember.group_name, Person.name)
            )
            found: dict[str, list[str]] = {}
            for group, name in rows:
                found.setdefault(group, []).append(name)
            return found

    def members(self, group: str) -> list[str]:
        """The members of ``group``; UnknownPersonError if it has none (no such group)."""
        group = check_name(group, "group")
        with self.store.reading() as session:
            members = members_in(session, group)
        if not members:
            raise UnknownPersonError(f"no group named {group!r} (facerec group add {group} NAME...)")
        return members
