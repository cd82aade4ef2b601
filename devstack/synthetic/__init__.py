"""Seeded, deterministic synthetic organisations feeding the Credly and Graph stand-ins."""

from devstack.synthetic.mutations import (
    Mutation,
    MutationKind,
    Mutator,
    NoEligibleTargetError,
)
from devstack.synthetic.people import EmailRelation, Person
from devstack.synthetic.spec import DEFAULT_NOW, Proportions, WorldSpec
from devstack.synthetic.world import World, build_world

__all__ = [
    "DEFAULT_NOW",
    "EmailRelation",
    "Mutation",
    "MutationKind",
    "Mutator",
    "NoEligibleTargetError",
    "Person",
    "Proportions",
    "World",
    "WorldSpec",
    "build_world",
]
