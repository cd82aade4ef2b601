"""The Microsoft Graph stand-in (with its Entra token endpoint) the connector is tested against."""
