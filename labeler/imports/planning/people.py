"""Whose label is it: the people a labels file names, matched to the project's members.

A file that knows who labelled what (``records.Person``) credits each annotation to a
person. Before anything is written, ``people_match`` says whose account will take each
person's labels (the import's preview); ``applying.accounts.people_resolve`` then makes
the accounts that do not exist yet. In this order, the first that applies:

1. **chosen**: the lead named a member for the person (by the person's key or e-mail),
   or ``""``/``"new"`` for an account of their own;
2. **imported**: an account an earlier import made for them in this project (the same
   name, the same e-mail or none): a second import of the file goes where the first went;
3. **email**: an active member whose confirmed e-mail is the person's (case aside;
   ``projects.addresses``: an address typed at sign-up and never confirmed is nobody's,
   nor is a username that looks like one);
4. **username**: an active member whose username is the person's username (case
   aside). The e-mail's local part is not enough: ``alice@a.org`` and ``alice@b.org``
   are two people;
5. **new**: an account of their own, created inactive without a usable password (it
   cannot log in) and made an annotator of the project, as ``applying.labels.importer_account``
   makes one. Its name is the person's username, else e-mail, else key, with what a
   username cannot hold turned into ``-``; a name another account holds gets ``-2``,
   ``-3``...

Only the project's members are matched: an account of the site that is not a member is
not, even with the same e-mail (add them to the project first, or link later). Two
people matched to the same account would put two labels of one image on one annotation:
that is refused, naming them, for the lead to choose for one of them.

A match to a member that contradicts what the file says of the person is flagged
(``people_contradictions``): the file gives them an e-mail and the member has another,
or has confirmed none and was matched by username (a username is anyone's to pick), or
the file's name for them is another member's username. Two people swapped by the
lead's choices are two contradictions. The dry run lists them; the import writes nothing
until the lead confirms each by the person's key or e-mail (``CONFIRMED``), and answers
otherwise with a ValidationFailed naming every one (``contradictions_confirmed_check``).

Later, when the lead knows who an imported account stood for,
``applying.accounts.imported_account_link`` gives the member its annotations and decisions
(``annotations.accounts``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from django.contrib.auth.hashers import is_password_usable
from django.contrib.auth.models import User

from labeler.errors import ValidationFailed
from labeler.imports.reading.records import Person
from labeler.projects.addresses import verified_emails
from labeler.projects.models import Membership, Project
from labeler.projects.selectors import MAX_NAMED

EMAIL, USERNAME, CHOSEN, IMPORTED, NEW = "email", "username", "chosen", "imported", "new"
HOWS = (EMAIL, USERNAME, CHOSEN, IMPORTED, NEW)
NEW_ACCOUNT = ("", "new")  # what ``chosen`` maps a person to for an account of their own
FIELD = "annotators"
CONFIRMED = "people_confirmed"  # the option, and the field its refusal names
MAX_NAME = 150  # Django's username length
MAX_EMAIL = 254  # and its e-mail's
MAX_SUFFIX = 1000  # names tried for one person before giving up
_NOT_IN_NAMES = re.compile(r"[^\w.@+-]+")  # what Django's username validator refuses


@dataclass(frozen=True)
class PersonMatch:
    """Whose account takes a person's labels: ``user_id`` an existing account (None: one
    named ``account`` will be made), and ``how`` it was found (one of ``HOWS``)."""

    person: Person
    account: str
    user_id: int | None
    how: str


@dataclass(frozen=True)
class Contradiction:
    """A person matched to a member the file says they are not: ``says`` what of the
    file's the member contradicts (their e-mail, their name)."""

    person: Person
    account: str
    says: str


@dataclass(frozen=True)
class _Member:
    user_id: int
    username: str
    email: str
    active: bool
    imported: bool


def people_match(
    *, project: Project, people: Sequence[Person], chosen: Mapping[str, str] | None = None
) -> list[PersonMatch]:
    """Whose account takes each person's labels, in the people's order; writes nothing.

    Raises ValidationFailed (field ``annotators``) for a choice naming no person of the
    file or no active member, and for two people matched to one account.
    """
    persons: dict[str, Person] = {}
    for person in people:
        persons.setdefault(person.key, person)
    members = _members(project)
    picks = _picks(list(persons.values()), chosen or {}, members)
    taken: set[str] = set()
    matches = []
    for person in persons.values():
        member = picks.get(person.key)
        if member is not None:
            match = PersonMatch(person, member.username, member.user_id, CHOSEN)
        else:
            match = _account_walk(person, members, taken)
            if match.how == NEW and person.key not in picks:
                match = _member_match(person, members) or match
        taken.add(match.account.casefold())
        matches.append(match)
    _collisions_check(matches)
    return matches


def people_contradictions(
    *, project: Project, matches: Sequence[PersonMatch]
) -> list[Contradiction]:
    """The matches to an existing member that contradict what the file says of the
    person, in the matches' order: an e-mail the member does not have (another confirmed
    address; or none, where the match was made by username alone: a username is anyone's
    to pick), or the file's name for them being another member's username (case aside)."""
    members = _members(project)
    found = []
    for match in matches:
        member = members.get(match.user_id) if match.user_id is not None else None
        if member is None:
            continue
        says = _contradicted(match.person, member, members, by_username=match.how == USERNAME)
        if says:
            found.append(Contradiction(match.person, member.username, says))
    return found


def contradictions_confirmed_check(
    contradictions: Sequence[Contradiction], confirmed: Sequence[str] | None
) -> None:
    """Raise ValidationFailed (field ``people_confirmed``), naming each one, unless the
    lead confirmed every contradiction by the person's key or e-mail."""
    named = {_folded(name) for name in confirmed or ()}
    open_ = [
        c
        for c in contradictions
        if _folded(c.person.key) not in named
        and not (c.person.email and _folded(c.person.email) in named)
    ]
    if not open_:
        return
    listed = "; ".join(f"{c.person.shown()!r} -> {c.account!r} ({c.says})" for c in open_)
    raise ValidationFailed(
        f"{len(open_)} of the people would be credited to a member the labels file says "
        f"they are not: {listed}. Confirm each by its key or e-mail in {CONFIRMED}, or "
        "choose another account for them in annotators.",
        field=CONFIRMED,
        unconfirmed=[
            {"key": c.person.key, "shown": c.person.shown(), "account": c.account, "says": c.says}
            for c in open_
        ],
    )


def _contradicted(
    person: Person, member: _Member, members: dict[int, _Member], *, by_username: bool
) -> str:
    email = _folded(person_email(person))
    if email and _folded(member.email) != email:
        if member.email.strip():
            return (
                f"the file gives the e-mail {person_email(person)!r}, "
                f"{member.username!r} has another"
            )
        if by_username:
            return (
                f"the file gives the e-mail {person_email(person)!r}, "
                f"{member.username!r} has confirmed none"
            )
    for name in (person.username.strip(), person_email(person)):
        others = [
            m
            for m in members.values()
            if m.user_id != member.user_id
            and m.active
            and name
            and m.username.casefold() == name.casefold()
        ]
        if others:
            return f"the file names them {name!r}, another member's username"
    return ""


def person_rematch(*, project: Project, person: Person, taken: set[str]) -> PersonMatch:
    """The person matched again as one of their own (imported, or a new account), the
    names in ``taken`` (folded) being another's: an account made meanwhile is found."""
    return _account_walk(person, _members(project), taken)


def account_name(person: Person) -> str:
    """The name an account of the person's own is given (before any ``-2`` suffix)."""
    raw = next((s.strip() for s in (person.username, person.email, person.key) if s.strip()), "")
    return _NOT_IN_NAMES.sub("-", raw).strip("-")[:MAX_NAME] or "person"


def _members(project: Project) -> dict[int, _Member]:
    rows = list(
        Membership.objects.filter(project=project).values_list(
            "user_id", "user__username", "user__is_active", "user__password"
        )
    )
    emails = verified_emails(row[0] for row in rows)
    return {
        user_id: _Member(
            user_id,
            username,
            emails.get(user_id, ""),
            active,
            not active and not is_password_usable(password),
        )
        for user_id, username, active, password in rows
    }


def _picks(
    persons: list[Person], chosen: Mapping[str, str], members: dict[int, _Member]
) -> dict[str, _Member | None]:
    """The lead's choices by person key: a member, or None for an account of their own."""
    if not isinstance(chosen, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in chosen.items()
    ):
        raise ValidationFailed(
            "The choices must map a person (their key or e-mail) to a member's username, "
            'or to "new".',
            field=FIELD,
        )
    by_key = {person.key: person for person in persons}
    by_email = {_folded(person.email): person for person in persons if person.email}
    picks: dict[str, _Member | None] = {}
    unknown_people, unknown_members = [], []
    for named, username in chosen.items():
        person = by_key.get(named) or by_email.get(_folded(named))
        if person is None:
            unknown_people.append(named)
            continue
        member = None
        if username.strip().casefold() not in NEW_ACCOUNT:
            member = _active_member(members, username.strip())
            if member is None:
                unknown_members.append(username)
                continue
        if person.key in picks and picks[person.key] != member:
            raise ValidationFailed(
                f"{person.shown()!r} is chosen twice, differently (by key and by e-mail).",
                field=FIELD,
            )
        picks[person.key] = member
    if unknown_people:
        raise ValidationFailed(
            f"The file names no person {_quoted(unknown_people)}: choose for a person by "
            "the key or e-mail the preview shows.",
            field=FIELD,
        )
    if unknown_members:
        raise ValidationFailed(
            f"No active member of this project is named {_quoted(unknown_members)}: add "
            'them to the project first, or choose "new" for an account of their own.',
            field=FIELD,
        )
    return picks


def _active_member(members: dict[int, _Member], username: str) -> _Member | None:
    """The active member with this username; else the one whose name differs only in case."""
    active = [m for m in members.values() if m.active]
    exact = [m for m in active if m.username == username]
    folded = [m for m in active if m.username.casefold() == username.casefold()]
    return exact[0] if exact else folded[0] if len(folded) == 1 else None


def _member_match(person: Person, members: dict[int, _Member]) -> PersonMatch | None:
    """The active member the person is, by e-mail, then by username (or e-mail as one)."""
    email = _folded(person_email(person))
    active = [m for m in members.values() if m.active]
    tries = (
        (EMAIL, [m for m in active if email and _folded(m.email) == email]),
        (USERNAME, _username_matches(active, person.username.strip())),
    )
    for how, found in tries:
        if len(found) > 1:
            raise ValidationFailed(
                f"{person.shown()!r} could be any of the members "
                f"{_quoted([m.username for m in found])} (by {how}): choose one for them.",
                field=FIELD,
            )
        if found:
            return PersonMatch(person, found[0].username, found[0].user_id, how)
    return None


def _username_matches(active: list[_Member], username: str) -> list[_Member]:
    if not username:
        return []
    exact = [m for m in active if m.username == username]
    return exact or [m for m in active if m.username.casefold() == username.casefold()]


def _account_walk(person: Person, members: dict[int, _Member], taken: set[str]) -> PersonMatch:
    """The person's own account: the first of their names (``alice``, ``alice-2``...) that
    is an account an import made for them in this project, or free; none is written."""
    base = account_name(person)
    accounts = _accounts_named(base)
    email = _folded(person_email(person))
    names = _names(base)
    for name in names:
        if name.casefold() in taken:
            continue
        holders = accounts.get(name.casefold(), [])
        if not holders:
            return PersonMatch(person, name, None, NEW)
        mine = [
            user
            for user in holders
            if user.pk in members and members[user.pk].imported and _folded(user.email) == email
        ]
        if len(holders) == 1 and mine:
            return PersonMatch(person, mine[0].username, mine[0].pk, IMPORTED)
    raise ValidationFailed(
        f"No account name is left for {person.shown()!r} ({base!r} to {names[-1]!r} are taken).",
        field=FIELD,
    )


def person_email(person: Person) -> str:
    return unicodedata.normalize("NFC", person.email.strip())[:MAX_EMAIL]


def _folded(email: str) -> str:
    """An e-mail as compared: composed (NFC; a file may write ``josé`` decomposed), case
    aside."""
    return unicodedata.normalize("NFC", email.strip()).casefold()


def _names(base: str) -> list[str]:
    suffixes = [""] + [f"-{n}" for n in range(2, MAX_SUFFIX + 1)]
    return [f"{base[: MAX_NAME - len(suffix)]}{suffix}" for suffix in suffixes]


def _accounts_named(base: str) -> dict[str, list[User]]:
    """The accounts whose name could be one of ``base``'s, by the name case-folded."""
    found: dict[str, list[User]] = {}
    users = User.objects.filter(username__istartswith=base[: MAX_NAME - len(f"-{MAX_SUFFIX}")])
    for user in users.only("pk", "username", "email", "is_active", "password"):
        found.setdefault(user.username.casefold(), []).append(user)
    return found


def _collisions_check(matches: list[PersonMatch]) -> None:
    by_account: dict[object, list[PersonMatch]] = {}
    for match in matches:
        key = match.user_id if match.user_id is not None else match.account.casefold()
        by_account.setdefault(key, []).append(match)
    for same in by_account.values():
        if len(same) > 1:
            raise ValidationFailed(
                f"{_quoted([m.person.shown() for m in same])} would all be "
                f"{same[0].account!r}, and their labels of one image would be one "
                'annotation: choose another member, or "new", for all but one of them.',
                field=FIELD,
            )


def _quoted(names: Sequence[str]) -> str:
    shown = ", ".join(repr(name) for name in names[:MAX_NAMED])
    return shown + (f" and {len(names) - MAX_NAMED} more" if len(names) > MAX_NAMED else "")
