"""The local stack: Azurite, the Credly and Graph stand-ins, the Functions host, tools."""
