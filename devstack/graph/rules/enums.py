"""The label and property-type enums, their `unknownFutureValue` sentinel, and how GET shows them.

Graph's enums are *evolvable*: members added after the `unknownFutureValue` sentinel are only
accepted and shown when the request sends `Prefer: include-unknown-enum-members`; without it
a GET answers the sentinel in their place.
"""

from __future__ import annotations

from collections.abc import Mapping

from devstack.graph.rules.problems import names

UNKNOWN_FUTURE_VALUE = "unknownFutureValue"
BASIC_LABELS = names(
    "title url createdBy lastModifiedBy authors createdDateTime lastModifiedDateTime fileName "
    "fileExtension"
)
"""Labels before the evolvable enum's `unknownFutureValue` sentinel: no Prefer header needed."""
PERSON_LABEL_TYPES: Mapping[str, str] = {
    **dict.fromkeys(
        names("personAccount personCurrentPosition personName personNote personWebSite"), "string"
    ),
    **dict.fromkeys(
        names(
            "personWorkPositions personAddresses personAnniversaries personAwards "
            "personCertifications personEducationalActivities personEmails personInterests "
            "personLanguages personPatents personPhones personPublications personProjects "
            "personSkills personWebAccounts"
        ),
        "stringCollection",
    ),
}
"""The supported person* labels and the property type each needs."""
UNSUPPORTED_PERSON_LABELS = names(
    "personManager personAssistants personColleagues personAlternateContacts "
    "personEmergencyContacts"
)
EVOLVABLE_LABELS = (
    names(
        "containerName containerUrl iconUrl assignedToPeople closedBy closedDate priority "
        "sprintName tags severity state dueDate itemParentId itemPath itemType "
        "numberOfReactions parentUrl priorityNormalized reportedBy secondaryId"
    )
    | frozenset(PERSON_LABEL_TYPES)
    | UNSUPPORTED_PERSON_LABELS
)
"""Labels after the sentinel: only with `Prefer: include-unknown-enum-members`."""

COLLECTION_ANNOTATIONS: Mapping[str, str] = {
    "stringCollection": "Collection(String)",
    "int64Collection": "Collection(Int64)",
    "doubleCollection": "Collection(Double)",
    "dateTimeCollection": "Collection(DateTimeOffset)",
}
"""The collection property types and the `@odata.type` annotation an item value needs."""
BASIC_PROPERTY_TYPES = frozenset(
    {"string", "int64", "double", "dateTime", "boolean", *COLLECTION_ANNOTATIONS}
)
EVOLVABLE_PROPERTY_TYPES = frozenset({"principal", "principalCollection"})


def present_label(label: str, include_unknown_enum_members: bool) -> str:
    """A label as a GET answers it: evolvable members hide behind the sentinel without header."""
    hidden = label in EVOLVABLE_LABELS and not include_unknown_enum_members
    return UNKNOWN_FUTURE_VALUE if hidden else label


def present_type(type_name: str, include_unknown_enum_members: bool) -> str:
    """A property type as a GET answers it (principal types are evolvable members)."""
    hidden = type_name in EVOLVABLE_PROPERTY_TYPES and not include_unknown_enum_members
    return UNKNOWN_FUTURE_VALUE if hidden else type_name
