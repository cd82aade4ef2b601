"""Seeded, deterministic synthetic organisations feeding the Credly and Graph stand-ins."""

from devstack.synthetic.mutation import Mutation, MutationKind, NoEligibleTargetError
from devstack.synthetic.mutations import Mutator
from devstack.synthetic.people import EmailRelation, Person
from devstack.synthetic.spec import WorldSpec
from devstack.synthetic.world import World, build_world

__all__ = [
    "EmailRelation",
    "Mutation",
    "MutationKind",
    "Mutator",
    "NoEligibleTargetError",
    "Person",
    "World",
    "WorldSpec",
    "build_world",
]
