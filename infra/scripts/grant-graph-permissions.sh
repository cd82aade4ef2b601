#!/usr/bin/env bash
# Grants the connector's identity the Microsoft Graph application permissions it needs, and no
# more. Idempotent: only missing permissions are granted; extra Graph permissions the identity
# already holds are reported (never removed). Run it as a Privileged Role Administrator (or
# Global Administrator) after `az login`; --dry-run only reads.
#
#   grant-graph-permissions.sh --identity NAME --resource-group RG [--dry-run]
#   grant-graph-permissions.sh --principal-id OBJECT_ID [--dry-run]   # any service principal
#   grant-graph-permissions.sh --app-id APP_ID [--dry-run]            # an app registration
#   grant-graph-permissions.sh --print-permissions
set -euo pipefail

readonly GRAPH_APP_ID="00000003-0000-0000-c000-000000000000" # Microsoft Graph, in every tenant
readonly GRAPH="https://graph.microsoft.com/v1.0"
# Why each is needed: infra/README.md, "Graph permissions".
readonly PERMISSIONS=(
  ExternalConnection.ReadWrite.OwnedBy # create and configure the people connection it owns
  ExternalItem.ReadWrite.OwnedBy       # write and delete the profile items in that connection
  PeopleSettings.ReadWrite.All         # register the connection as a profile source
  User.Read.All                        # match badge emails to users (mail, proxyAddresses, licences)
)

usage() {
  sed -n '2,10s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

# Whether the first argument equals any of the others.
contains() {
  local wanted="$1" item
  shift
  for item in "$@"; do
    [ "$item" = "$wanted" ] && return 0
  done
  return 1
}

fail() {
  echo "error: $*" >&2
  exit 2
}

dry_run=false
principal_id=""
identity_name=""
resource_group=""
app_id=""
while [ "$#" -gt 0 ]; do
  case "$1" in
    --dry-run) dry_run=true ;;
    --principal-id) principal_id="${2:-}"; shift ;;
    --identity) identity_name="${2:-}"; shift ;;
    --resource-group) resource_group="${2:-}"; shift ;;
    --app-id) app_id="${2:-}"; shift ;;
    --print-permissions)
      printf '%s\n' "${PERMISSIONS[@]}"
      exit 0
      ;;
    -h | --help)
      usage
      exit 0
      ;;
    *) fail "unknown argument: $1 (see --help)" ;;
  esac
  shift
done

targets=0
[ -n "$principal_id" ] && targets=$((targets + 1))
[ -n "$identity_name" ] && targets=$((targets + 1))
[ -n "$app_id" ] && targets=$((targets + 1))
[ "$targets" -eq 1 ] || fail "name exactly one of --identity, --principal-id or --app-id"
if [ -n "$identity_name" ] && [ -z "$resource_group" ]; then
  fail "--identity needs --resource-group"
fi
command -v az >/dev/null 2>&1 || {
  echo "error: the Azure CLI (az) is not on PATH; install it and run az login" >&2
  exit 1
}

if [ -n "$identity_name" ]; then
  principal_id="$(az identity show --name "$identity_name" --resource-group "$resource_group" \
    --query principalId --output tsv)"
elif [ -n "$app_id" ]; then
  principal_id="$(az ad sp show --id "$app_id" --query id --output tsv)"
fi
[ -n "$principal_id" ] || fail "could not resolve the service principal"

graph_sp="$(az ad sp show --id "$GRAPH_APP_ID" --query id --output tsv)"
# "<assignment id><TAB><app role id>" for each Graph permission the principal holds now.
held="$(az rest --method get --url "$GRAPH/servicePrincipals/$principal_id/appRoleAssignments" \
  --query "value[?resourceId=='$graph_sp'].[id, appRoleId]" --output tsv)"
held_ids=()
while IFS=$'\t' read -r _ role_id; do
  [ -n "$role_id" ] && held_ids+=("$role_id")
done <<<"$held"

wanted_ids=()
for permission in "${PERMISSIONS[@]}"; do
  role_id="$(az ad sp show --id "$GRAPH_APP_ID" --output tsv --query \
    "appRoles[?value=='$permission' && contains(allowedMemberTypes, 'Application')].id | [0]")"
  [ -n "$role_id" ] || fail "Microsoft Graph has no application permission $permission"
  wanted_ids+=("$role_id")
  if contains "$role_id" ${held_ids[@]+"${held_ids[@]}"}; then
    echo "ok       $permission (already granted)"
  elif [ "$dry_run" = true ]; then
    echo "would grant $permission"
  else
    az rest --method post --url "$GRAPH/servicePrincipals/$principal_id/appRoleAssignments" \
      --headers "Content-Type=application/json" \
      --body "{\"principalId\":\"$principal_id\",\"resourceId\":\"$graph_sp\",\"appRoleId\":\"$role_id\"}" \
      --output none
    echo "granted  $permission"
  fi
done

# Least privilege: say which other Graph permissions the principal holds, and how to drop them.
while IFS=$'\t' read -r assignment_id role_id; do
  [ -n "$role_id" ] || continue
  contains "$role_id" ${wanted_ids[@]+"${wanted_ids[@]}"} && continue
  name="$(az ad sp show --id "$GRAPH_APP_ID" --output tsv \
    --query "appRoles[?id=='$role_id'].value | [0]")"
  echo "extra    ${name:-$role_id}: not needed by the connector; remove it with"
  echo "         az rest --method delete --url" \
    "$GRAPH/servicePrincipals/$principal_id/appRoleAssignments/$assignment_id"
done <<<"$held"

if [ "$dry_run" = true ]; then
  echo "dry run: nothing was changed"
fi
