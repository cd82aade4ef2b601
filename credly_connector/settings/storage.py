"""The storage section: a connection string, or an identity-based account; the name prefix."""

from __future__ import annotations

import re

from credly_connector.settings.model import StorageSettings
from credly_connector.settings.values import ValueReader

# Queue names are at most 63 characters; the longest of ours ("crawl-profiles-poison") is 21.
MAX_PREFIX = 24


def parse_connection_string(value: str) -> dict[str, str] | None:
    """The `key=value` pairs of a storage connection string (keys lower-cased), or None."""
    pairs = [part.partition("=") for part in value.split(";") if part.strip()]
    if not pairs or any(not sep or not key.strip() for key, sep, _ in pairs):
        return None
    return {key.strip().lower(): item.strip() for key, _, item in pairs}


def prefix_problem(value: str) -> str | None:
    """Why `value` cannot prefix queue and table names, or None."""
    if len(value) > MAX_PREFIX:
        return f"{value!r} is longer than {MAX_PREFIX} characters"
    if not re.fullmatch(r"[a-z0-9]*", value):
        return f"{value!r} has characters other than lower-case letters and digits"
    if value and not value[0].isalpha():
        return f"{value!r} does not start with a letter"
    return None


def read_storage(r: ValueReader) -> StorageSettings:
    """The storage section, from AzureWebJobsStorage (or its identity-based form)."""
    prefix = r.text("STORAGE_PREFIX") or ""
    if reason := prefix_problem(prefix):
        fix = (
            f"use up to {MAX_PREFIX} lower-case letters and digits starting with a letter, "
            "or leave it empty"
        )
        r.problem("STORAGE_PREFIX", reason, fix)
        prefix = ""
    connection_string = r.text("AzureWebJobsStorage")
    account = r.text("AzureWebJobsStorage__accountName")
    queue_url = r.url("AzureWebJobsStorage__queueServiceUri", None)
    table_url = r.url("AzureWebJobsStorage__tableServiceUri", None)
    # Presence, not validity: an invalid URI is reported by `url` and must not count as missing.
    given = {
        kind: r.text(f"AzureWebJobsStorage__{kind}ServiceUri") is not None
        for kind in ("queue", "table")
    }
    if connection_string:
        pairs = parse_connection_string(connection_string) or {}
        if pairs.get("usedevelopmentstorage", "").lower() == "true":
            account = "devstoreaccount1"
        elif pairs.get("accountname") and pairs.get("accountkey"):
            account = pairs["accountname"]
        else:  # never echo the value: it may hold an account key
            r.problem(
                "AzureWebJobsStorage",
                "is not a storage connection string with AccountName and AccountKey",
                "copy the connection string from the storage account's Access keys, "
                "or use UseDevelopmentStorage=true with Azurite",
            )
    elif account:
        if not re.fullmatch(r"[a-z0-9]{3,24}", account):
            fix = "use the storage account's name: 3-24 lower-case letters and digits"
            r.problem("AzureWebJobsStorage__accountName", f"{account!r} is not valid", fix)
        queue_url = queue_url or f"https://{account}.queue.core.windows.net"
        table_url = table_url or f"https://{account}.table.core.windows.net"
    elif given["queue"] != given["table"]:
        missing = "tableServiceUri" if given["queue"] else "queueServiceUri"
        r.problem(
            f"AzureWebJobsStorage__{missing}",
            "is not set but the other service URI is",
            "set both service URIs, or AzureWebJobsStorage__accountName instead",
        )
    elif not given["queue"]:
        r.problem(
            "AzureWebJobsStorage",
            "no storage account is set",
            "set a connection string (or UseDevelopmentStorage=true for Azurite), or the "
            "identity-based AzureWebJobsStorage__accountName (or __queueServiceUri and "
            "__tableServiceUri)",
        )
    return StorageSettings(
        connection_string=connection_string,
        account_name=account,
        queue_url=queue_url,
        table_url=table_url,
        credential_client_id=r.text("AzureWebJobsStorage__clientId"),
        prefix=prefix,
    )
