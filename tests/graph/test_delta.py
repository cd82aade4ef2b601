"""users/delta answers to directory changes, with plain values."""

from __future__ import annotations

from credly_connector.directory import DirectoryChange, DirectoryUser
from credly_connector.graph.delta import DeltaPage, delta_page, directory_change

USER_ID = "6e2f0c1a-9b3d-4e5f-8a7b-6c5d4e3f2a1b"


def test_a_user_entry_keeps_what_matching_and_eligibility_need() -> None:
    raw = {
        "id": USER_ID,
        "userPrincipalName": "adele@contoso.com",
        "mail": "Adele.Vance@contoso.com",
        "proxyAddresses": ["SMTP:Adele.Vance@contoso.com", "smtp:adele@contoso.net"],
        "accountEnabled": False,
        "assignedLicenses": [{"skuId": "sku", "disabledPlans": []}],
        "displayName": "ignored",
    }
    assert directory_change(raw) == DirectoryChange(
        USER_ID,
        DirectoryUser(
            id=USER_ID,
            user_principal_name="adele@contoso.com",
            mail="Adele.Vance@contoso.com",
            proxy_addresses=("SMTP:Adele.Vance@contoso.com", "smtp:adele@contoso.net"),
            account_enabled=False,
            licensed=True,
        ),
    )


def test_missing_and_null_properties_take_safe_values() -> None:
    change = directory_change(
        {"id": USER_ID, "userPrincipalName": "a@b.c", "mail": None, "proxyAddresses": None}
    )
    assert change.user == DirectoryUser(
        id=USER_ID,
        user_principal_name="a@b.c",
        mail=None,
        proxy_addresses=(),
        account_enabled=True,
        licensed=False,
    )


def test_removed_entries_are_removals_whatever_the_reason() -> None:
    deleted = {"id": USER_ID, "@removed": {"reason": "deleted"}}
    changed = {"id": USER_ID, "@removed": {"reason": "changed"}, "userPrincipalName": "x"}
    assert directory_change(deleted) == DirectoryChange(USER_ID, None)
    assert directory_change(changed) == DirectoryChange(USER_ID, None)


def test_a_page_carries_its_links() -> None:
    middle = delta_page({"value": [{"id": "1"}], "@odata.nextLink": "https://n"})
    assert middle.next_link == "https://n"
    assert middle.delta_link is None
    assert [c.user_id for c in middle.changes] == ["1"]
    assert delta_page({"value": [], "@odata.deltaLink": "https://d"}) == DeltaPage(
        [], None, "https://d"
    )
