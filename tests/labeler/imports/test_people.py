"""Whose label is it: the people a labels file names matched to the project's members (by
e-mail, username, the lead's choice, an earlier import's account, or a new one), refusals
naming what is wrong, and the accounts made once however often the same file comes."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from labeler.errors import ValidationFailed
from labeler.imports.applying.accounts import people_resolve
from labeler.imports.planning.people import (
    CHOSEN,
    EMAIL,
    IMPORTED,
    NEW,
    USERNAME,
    account_name,
    people_match,
)
from labeler.imports.reading.records import Person
from labeler.projects import addresses
from labeler.projects.models import AddressConfirmed, Membership, Role
from tests.factories import ProjectFactory, UserFactory, add_member
from tests.rows import row_counts

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(project):
    user = UserFactory(username="alice", email="Alice@Example.org", email_verified=True)
    add_member(project, user, Role.REVIEWER)
    return user


def hows(matches) -> dict[str, tuple[str, str]]:
    return {m.person.key: (m.how, m.account) for m in matches}


def test_members_are_matched_by_email_then_username(project, alice, annotator):
    """Confirmed e-mail first (case aside), then username; the rest get an account of
    their own (an e-mail that is a member's username is no match: usernames are typed)."""
    annotator.email = "ann@example.org"
    annotator.save()
    people = [
        Person("ls:1", email="alice@EXAMPLE.org", username="someone"),
        Person("ls:2", username="ANN2"),
        Person("ls:3", email="ann1"),
        Person("ls:4", email="zoe@example.org"),
        Person("cvat:bob", username="bob"),
    ]
    matches = people_match(project=project, people=people)

    assert hows(matches) == {
        "ls:1": (EMAIL, "alice"),
        "ls:2": (USERNAME, "ann2"),
        "ls:3": (NEW, "ann1-2"),
        "ls:4": (NEW, "zoe@example.org"),
        "cvat:bob": (NEW, "bob"),
    }
    assert [m.user_id for m in matches[:3]] == [
        alice.pk,
        User.objects.get(username="ann2").pk,
        None,
    ]


def test_the_local_part_of_an_email_is_not_a_username(project, annotator):
    """``ann1@elsewhere.org`` is not the member ann1: two people may share a local part."""
    [match] = people_match(project=project, people=[Person("k", email="ann1@elsewhere.org")])
    assert (match.how, match.account, match.user_id) == (NEW, "ann1@elsewhere.org", None)


def test_only_active_members_are_matched(project, outsider, annotator):
    """An account of the site that is no member, or a member who is deactivated, is not
    matched: their people get accounts of their own."""
    outsider.email = "out@example.org"
    outsider.save()
    annotator.is_active = False
    annotator.save()
    matches = people_match(
        project=project, people=[Person("a", email="out@example.org"), Person("b", username="ann1")]
    )
    assert [(m.how, m.user_id) for m in matches] == [(NEW, None), (NEW, None)]
    assert matches[1].account == "ann1-2"  # the deactivated member keeps the name


def test_matching_writes_nothing(project):
    """The preview creates no account and no membership."""
    before = row_counts()
    people_match(project=project, people=[Person("x", username="newbie")])
    assert row_counts() == before


def test_the_leads_choice_wins(project, alice, annotator):
    """Chosen by key or by e-mail, any case of the member's name; "" and "new" give an
    account of their own even where a member matches."""
    people = [
        Person("p1", username="someone"),
        Person("p2", email="X@example.org"),
        Person("p3", email="alice@example.org"),
        Person("p4", username="ann1"),
    ]
    chosen = {"p1": "ANN1", "x@example.org": "alice", "p3": "new", "p4": ""}
    matches = people_match(project=project, people=people, chosen=chosen)
    assert hows(matches) == {
        "p1": (CHOSEN, "ann1"),
        "p2": (CHOSEN, "alice"),
        "p3": (NEW, "alice@example.org"),
        "p4": (NEW, "ann1-2"),
    }


@pytest.mark.parametrize(
    ("chosen", "named"),
    [
        ({"nobody": "ann1"}, "'nobody'"),
        ({"p1": "outsider"}, "'outsider'"),
        ({"p1": "ghost"}, "'ghost'"),
        ({"p1": 3}, "must map a person"),
    ],
)
def test_a_choice_naming_no_person_or_no_active_member_is_refused(project, outsider, chosen, named):
    """A key the file does not have, or a name that is no active member of the project
    (an account elsewhere included), is refused naming it."""
    with pytest.raises(ValidationFailed) as refused:
        people_match(project=project, people=[Person("p1")], chosen=chosen)
    assert refused.value.field == "annotators"
    assert named in refused.value.message


def test_two_people_on_one_member_are_refused(project, alice):
    """Matched or chosen, two people on one account would make one annotation of two
    labels: refused naming both, until the lead chooses for one of them."""
    people = [Person("a", email="alice@example.org"), Person("b", username="alice")]
    with pytest.raises(ValidationFailed) as refused:
        people_match(project=project, people=people)
    assert "'alice@example.org', 'alice'" in refused.value.message
    assert refused.value.field == "annotators"
    with pytest.raises(ValidationFailed):
        people_match(
            project=project, people=[Person("a"), Person("b")], chosen={"a": "alice", "b": "alice"}
        )

    matches = people_match(project=project, people=people, chosen={"b": "new"})
    assert hows(matches) == {"a": (EMAIL, "alice"), "b": (NEW, "alice-2")}


def test_of_two_members_with_one_email_the_one_who_confirmed_it_is_matched(
    project, annotator, annotator2
):
    """Two members hold one address: unconfirmed, it matches neither; once one of them
    confirms it, that one (an address is confirmed for one account at most)."""
    for user in (annotator, annotator2):
        user.email = "shared@example.org"
        user.save()
    [match] = people_match(project=project, people=[Person("k", email="shared@example.org")])
    assert (match.how, match.user_id) == (NEW, None)
    addresses.email_mark_verified(user=annotator2, how=AddressConfirmed.ADMIN)
    assert not addresses.email_mark_verified(user=annotator, how=AddressConfirmed.ADMIN)
    [match] = people_match(project=project, people=[Person("k", email="SHARED@example.org")])
    assert (match.how, match.account) == (EMAIL, "ann2")


def test_account_names_keep_what_a_username_may_hold():
    """Username, else e-mail, else key; other characters become ``-``."""
    assert account_name(Person("ls:3", email="a b@x.org", username="Jane Doe")) == "Jane-Doe"
    assert account_name(Person("ls:3", email="a b@x.org")) == "a-b@x.org"
    assert account_name(Person("ls:3")) == "ls-3"
    assert account_name(Person("::", username=" ")) == "person"
    assert account_name(Person("k", username="é" * 200)) == "é" * 150


def test_resolve_makes_inactive_annotators_once(project, alice):
    """New accounts cannot log in and are annotators; members keep their role; resolving
    again, or matching the same file again, finds the accounts the first time made."""
    people = [
        Person("ls:1", email="alice@example.org"),
        Person("ls:2", email="zoe@example.org"),
        Person("ls:3", username="Jane Doe"),
    ]
    matches = people_match(project=project, people=people)
    users = people_resolve(project=project, matches=matches)

    zoe, jane = users["ls:2"], users["ls:3"]
    assert users["ls:1"] == alice
    assert (zoe.username, zoe.email, jane.username) == (
        "zoe@example.org",
        "zoe@example.org",
        "Jane-Doe",
    )
    for user in (zoe, jane):
        assert not user.is_active and not user.has_usable_password()
        assert Membership.objects.get(project=project, user=user).role == Role.ANNOTATOR
    assert Membership.objects.get(project=project, user=alice).role == Role.REVIEWER

    before = row_counts()
    assert people_resolve(project=project, matches=matches) == users
    again = people_match(project=project, people=people)
    assert hows(again) == {
        "ls:1": (EMAIL, "alice"),
        "ls:2": (IMPORTED, "zoe@example.org"),
        "ls:3": (IMPORTED, "Jane-Doe"),
    }
    assert people_resolve(project=project, matches=again) == users
    assert row_counts() == before


def test_an_earlier_imports_account_comes_before_a_member(project, annotator):
    """A member who joined after the first import does not take the person's second
    import: their labels would count twice. Linking the account moves them."""
    [first] = people_match(project=project, people=[Person("k", email="ann@example.org")])
    imported = people_resolve(project=project, matches=[first])["k"]
    annotator.email = "ann@example.org"
    annotator.save()

    [again] = people_match(project=project, people=[Person("k", email="ann@example.org")])
    assert (again.how, again.user_id) == (IMPORTED, imported.pk)


def test_names_held_elsewhere_get_a_suffix(project, outsider):
    """A name held by a person, by another project's imported account, or by an imported
    account of another e-mail is not reused: the next free one is taken, the same each time."""
    other = ProjectFactory()
    [elsewhere] = people_match(project=other, people=[Person("k", username="vendor")])
    people_resolve(project=other, matches=[elsewhere])
    people = [
        Person("a", username="outsider"),
        Person("b", username="vendor"),
        Person("c", username="vendor", email="c@example.org"),
    ]
    matches = people_match(project=project, people=people)
    assert hows(matches) == {
        "a": (NEW, "outsider-2"),
        "b": (NEW, "vendor-2"),
        "c": (NEW, "vendor-3"),
    }
    people_resolve(project=project, matches=matches)
    assert hows(people_match(project=project, people=people)) == {
        "a": (IMPORTED, "outsider-2"),
        "b": (IMPORTED, "vendor-2"),
        "c": (IMPORTED, "vendor-3"),
    }


def test_a_name_taken_between_preview_and_resolve_takes_the_next(project):
    """The preview's name, taken meanwhile, is not shared: the account gets the next one."""
    [match] = people_match(project=project, people=[Person("k", username="sam")])
    UserFactory(username="Sam")
    users = people_resolve(project=project, matches=[match])
    assert users["k"].username == "sam-2"


def test_a_member_gone_since_the_preview_is_refused(project, annotator):
    """A matched member deactivated before the import writes is refused, not used."""
    [match] = people_match(project=project, people=[Person("k", username="ann1")])
    annotator.is_active = False
    annotator.save()
    with pytest.raises(ValidationFailed, match="no longer an active account"):
        people_resolve(project=project, matches=[match])
